"""The adapters the product ships (``ADAPTERS``, one module each in ``connector/platforms/adapters``) and how
the worker calls them uniformly.

An adapter exposes ``NAME``, ``EVENTS`` and ``deliver`` (plus ``Config`` and ``idempotency_key``).
Adapters differ in what ``deliver`` takes (``http``; a SQL-backed ``store``; Google Sheets a ``sync``):
``call_deliver`` passes exactly the parameters the signature names.
"""

from __future__ import annotations

import inspect
import logging
import typing
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine

from connector.platforms.adapters import (
    freshbooks,
    google_sheets,
    jira,
    netsuite,
    paypal,
    plaid,
    quickbooks,
    salesforce,
    sap_concur,
    sap_s4hana,
    sendgrid,
    slack,
    square,
    stripe,
    xero,
    zoho_analytics,
    zoho_books,
)

LOG = logging.getLogger("connector.platforms.registry")
# Every adapter the product ships, by name (the order ``evbill platforms list`` shows). A new vendor is one
# module in ``adapters/`` and one entry here.
ADAPTERS: tuple[ModuleType, ...] = (
    freshbooks, google_sheets, jira, netsuite, paypal, plaid, quickbooks, salesforce, sap_concur, sap_s4hana,
    sendgrid, slack, square, stripe, xero, zoho_analytics, zoho_books,
)


@dataclass(frozen=True)
class ConfigKey:
    name: str
    required: bool
    secret: bool
    description: str


@dataclass(frozen=True)
class Platform:
    """One adapter module and what ``evbill platforms list`` and the API show about it."""

    name: str
    module: ModuleType
    events: tuple[str, ...]

    @property
    def summary(self) -> str:
        doc = (self.module.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @property
    def config_model(self) -> type[BaseModel] | None:
        model = getattr(self.module, "Config", None)
        return model if isinstance(model, type) and issubclass(model, BaseModel) else None

    def config_keys(self) -> list[ConfigKey]:
        model = self.config_model
        if model is None:
            return []
        return [ConfigKey(name, info.is_required(), info.repr is False, info.description or "")
                for name, info in model.model_fields.items()]

    def secret_fields(self) -> set[str]:
        return {k.name for k in self.config_keys() if k.secret}

    def idempotency_key(self, event: dict[str, Any], config: BaseModel | None) -> str:
        """The adapter's key (``(event)`` or ``(event, config)`` signatures), else event id + platform."""
        fn = getattr(self.module, "idempotency_key", None)
        if fn is None:
            return f"{self.name}:{event.get('tenant_id', '')}:{event['id']}"
        if len(inspect.signature(fn).parameters) >= 2:
            return str(fn(event, config))
        return str(fn(event))

    def call_deliver(self, event: dict[str, Any], config: BaseModel | None, http: Any,
                     engine: Engine | None) -> dict[str, Any]:
        """``deliver(event, config, **what it asks for)``: ``http`` and engine-backed stores."""
        fn = self.module.deliver
        params = list(inspect.signature(fn).parameters.values())[2:]
        hints = _hints(fn)
        kwargs: dict[str, Any] = {}
        for p in params:
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            if p.name == "http":
                kwargs["http"] = http
            elif engine is not None and (store := _store_for(hints.get(p.name), self.module, engine)) is not None:
                kwargs[p.name] = store
        result = fn(event, config, **kwargs)
        return result if isinstance(result, dict) else {"status": "sent", "ref": result}


def _hints(fn: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations: no stores injected
        return {}


def _store_for(annotation: Any, module: ModuleType, engine: Engine) -> Any:
    """An instance of the store class the parameter is annotated with, built on the worker's engine.

    Only classes defined in the adapter module whose constructor takes one ``engine`` qualify (the
    Jira ticket store, the Slack digest store); ``X | None`` annotations are unwrapped.
    """
    candidates = [a for a in (typing.get_args(annotation) or (annotation,)) if isinstance(a, type)]
    for cls in candidates:
        if cls.__module__ != module.__name__:
            continue
        params = list(inspect.signature(cls).parameters)
        if params == ["engine"]:
            return _cached_store(cls, engine)
    return None


@cache
def _cached_store(cls: type, engine: Engine) -> Any:
    return cls(engine)


def discover() -> dict[str, Platform]:
    """Every adapter of ``ADAPTERS``, by ``NAME``."""
    return {str(m.NAME): Platform(str(m.NAME), m, tuple(m.EVENTS)) for m in ADAPTERS}


def get(name: str) -> Platform:
    platforms = discover()
    if name not in platforms:
        raise LookupError(f"platform {name!r} is not installed (known: {sorted(platforms)})")
    return platforms[name]
