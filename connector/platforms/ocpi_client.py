"""Calls to an OCPI 2.2.1 partner: the request headers every call carries, the versions/version-details
walk, and reading the OCPI envelope of an answer.

Why one module: registration (both directions), the CDR push and the tariff publication all talk to the
partner the same way; every call goes through a :class:`~connector.platforms.sender.Sender`, so retries and
errors are the shared machinery's (``RetryableError`` on 5xx/timeouts, ``PermanentError`` otherwise).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from connector.platforms.errors import PermanentError
from connector.platforms.sender import Sender

VERSION = "2.2.1"


@dataclass(frozen=True)
class Party:
    """An OCPI party: who sends (``OCPI-from-*``) or receives (``OCPI-to-*``) a request."""

    country_code: str
    party_id: str


def authorization(token: str) -> str:
    """``Token <base64(token)>``: 2.2.1 §4.1.3 sends the token base64-encoded."""
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def headers(token: str, sender: Party | None = None, receiver: Party | None = None,
            correlation_id: str | None = None) -> dict[str, str]:
    """The request headers of 2.2.1 §4.1.4 (routing headers when both parties are known)."""
    out = {"Authorization": authorization(token), "X-Request-ID": str(uuid.uuid4()),
           "X-Correlation-ID": correlation_id or str(uuid.uuid4())}
    if sender is not None and receiver is not None:
        out.update({"OCPI-from-country-code": sender.country_code, "OCPI-from-party-id": sender.party_id,
                    "OCPI-to-country-code": receiver.country_code, "OCPI-to-party-id": receiver.party_id})
    return out


def data_of(response: Any, what: str) -> Any:
    """``data`` of an OCPI answer whose ``status_code`` is 1xxx; anything else is a permanent refusal."""
    try:
        body = response.json()
    except ValueError:
        raise PermanentError(f"{what}: the partner answered no JSON") from None
    if not isinstance(body, dict) or not str(body.get("status_code", "")).startswith("1"):
        status = body.get("status_code") if isinstance(body, dict) else None
        message = body.get("status_message") if isinstance(body, dict) else None
        raise PermanentError(f"{what}: partner refused (status_code {status}: {message})")
    return body.get("data")


def discover(http: Sender, versions_url: str, token: str) -> tuple[str, list[dict[str, Any]]]:
    """(version-details URL, endpoints) of the partner's 2.2.1, from its versions URL."""
    versions = data_of(http.send("GET", versions_url, headers=headers(token)), "GET versions")
    details_url = next((str(v["url"]) for v in versions or [] if isinstance(v, dict) and v.get("version") == VERSION),
                       None)
    if details_url is None:
        raise PermanentError(f"GET versions: the partner offers no OCPI {VERSION}")
    details = data_of(http.send("GET", details_url, headers=headers(token)), "GET version details")
    endpoints = details.get("endpoints") if isinstance(details, dict) else None
    if not isinstance(endpoints, list):
        raise PermanentError("GET version details: no endpoints")
    return details_url, [e for e in endpoints if isinstance(e, dict)]


def endpoint_url(endpoints: list[dict[str, Any]], identifier: str, role: str = "RECEIVER") -> str | None:
    for item in endpoints:
        if item.get("identifier") == identifier and item.get("role", role) == role:
            return str(item["url"])
    return None


def object_url(base: str, *ids: str) -> str:
    """``{base}/{country_code}/{party_id}/{id}`` whether or not the partner's base URL ends in ``/``."""
    return base.rstrip("/") + "/" + "/".join(ids)
