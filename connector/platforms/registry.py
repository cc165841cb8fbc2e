"""The adapters the product ships (``ADAPTERS``, one module each in ``connector/platforms/adapters``) and how
the worker calls them.

An adapter exposes ``NAME``, ``EVENTS``, ``Config``, ``idempotency_key(event, config)`` and
``deliver(event, config, ctx)``; ``ctx`` is a :class:`~connector.platforms.context.DeliveryContext` holding
everything it may touch besides the vendor (sender, sent refs, stores). Every adapter is called the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from connector.models.documents import EventJson
from connector.platforms.adapters import (
    freshbooks,
    google_sheets,
    jira,
    netsuite,
    ocpi,
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
from connector.platforms.context import DeliveryContext
from connector.validation import NotFound

LOG = logging.getLogger("connector.platforms.registry")
# Every adapter the product ships, by name (the order ``evbill platforms list`` shows). A new vendor is one
# module in ``adapters/`` and one entry here.
ADAPTERS: tuple[ModuleType, ...] = (
    freshbooks, google_sheets, jira, netsuite, ocpi, paypal, plaid, quickbooks, salesforce, sap_concur, sap_s4hana,
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

    def idempotency_key(self, event: EventJson, config: BaseModel | None) -> str:
        """The adapter's ``idempotency_key(event, config)``, else event id + platform."""
        fn = getattr(self.module, "idempotency_key", None)
        if fn is None:
            return f"{self.name}:{event.get('tenant_id', '')}:{event['id']}"
        return str(fn(event, config))

    def deliver(self, event: EventJson, config: BaseModel | None, ctx: DeliveryContext) -> dict[str, Any]:
        """``deliver(event, config, ctx)`` of the adapter: what to record on the delivery row."""
        result: dict[str, Any] = self.module.deliver(event, config, ctx)
        return result


def discover() -> dict[str, Platform]:
    """Every adapter of ``ADAPTERS``, by ``NAME``."""
    return {str(m.NAME): Platform(str(m.NAME), m, tuple(m.EVENTS)) for m in ADAPTERS}


def get(name: str) -> Platform:
    platforms = discover()
    if name not in platforms:
        raise NotFound(f"platform {name!r} is not installed (known: {sorted(platforms)})")
    return platforms[name]
