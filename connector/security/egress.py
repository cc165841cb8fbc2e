"""Where tenant-supplied webhook URLs may point: public addresses only, unless the operator says otherwise.

A subscription's ``callback_url`` comes from any API-key holder, and the worker POSTs signed events to it.
Without a guard, a tenant could aim it at the cloud metadata service (169.254.169.254), at the database
or at an admin port on the operator's private network (server-side request forgery). The rule:

* every address the host resolves to must be globally routable;
* ``EVBILL_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true`` also admits loopback and private ranges (10/8, 172.16/12,
  192.168/16, fc00::/7, 127/8, ::1): on-premises flow engines and the tests;
* link-local (169.254/16 incl. the metadata service, fe80::/10), multicast, unspecified and reserved
  addresses are never admitted.

Checked when a subscription is created (a clear 422) and again by the worker before each delivery (DNS may
have changed; a refused delivery is dead-lettered, not retried). A host that does not resolve passes: DNS
can be briefly down, and the delivery then fails to connect, is retried and checked again. Residual risk
(docs/events.md): the HTTP client resolves once more when it connects (DNS rebinding between the lookups).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlparse

from connector.config import ALLOW_PRIVATE_NETWORKS, WebhookSettings

ALLOW_PRIVATE_ENV = ALLOW_PRIVATE_NETWORKS

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]


class EgressRefused(ValueError):
    """The URL points somewhere webhooks may not go; ``str(exc)`` says where and why."""


def allow_private_networks(env: Mapping[str, str] | None = None) -> bool:
    """The operator's switch as the process sees it now: the API and the worker check each URL against it."""
    return WebhookSettings.from_environ(env).allow_private_networks


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (raises ``OSError`` when it does not resolve)."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})


def refusal(address: Address, allow_private: bool) -> str | None:
    """Why ``address`` is not a webhook target, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local:
        return "a link-local address (cloud metadata services live here)"
    if address.is_multicast or address.is_unspecified:
        return "a multicast or unspecified address"
    if address.is_global:
        return None
    if not address.is_loopback and (address.is_reserved or not address.is_private):
        return "a reserved address"  # 240/4, 100.64/10 (carrier-grade NAT), ...: never a webhook receiver
    if allow_private:
        return None
    return (f"a loopback or private address (set {ALLOW_PRIVATE_ENV}=true to allow targets on your own "
            "network)")


def check_url(url: str, *, allow_private: bool | None = None, resolver: Resolver = system_resolver) -> None:
    """Raise ``EgressRefused`` unless every address of ``url``'s host may receive webhooks.

    A host that does not resolve passes: at delivery the HTTP client then fails, and that is retried."""
    if allow_private is None:
        allow_private = allow_private_networks()
    parsed = urlparse(url)
    host = parsed.hostname
    if parsed.scheme not in ("http", "https") or not host:
        raise EgressRefused("not an absolute http(s) URL")
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[Address] = [literal]
    else:
        try:
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]
        except (OSError, UnicodeError, ValueError):
            return
    for address in addresses:
        reason = refusal(address, allow_private)
        if reason is not None:
            shown = host if literal is not None else f"{host} ({address})"
            raise EgressRefused(f"{shown} is {reason}")
