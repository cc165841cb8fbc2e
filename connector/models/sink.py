"""Where normalised events go: the one ingestion path, seen from a source adapter.

Adapters (CSMS, webhooks, imports, serverless) depend on this small protocol, not on tables, so the
same adapter runs against the database pipeline in production and in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from connector.models.session_event import SessionEvent
from connector.money import money_str


@dataclass(slots=True)
class IngestOutcome:
    """``duplicate`` = this (tenant, event_id) was seen before; nothing changed."""

    status: Literal["accepted", "duplicate"]
    event_id: str
    session_id: str
    billed: Mapping[str, Any] | None = None  # what billing returned for an ``end`` event (JSON shape)
    total_cost: Decimal | None = None  # final cost incl. taxes, for the charger display (OCPP totalCost)
    currency: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "event_id": self.event_id, "session_id": self.session_id,
            "total_cost": None if self.total_cost is None else (
                money_str(self.total_cost, self.currency) if self.currency else format(self.total_cost, "f")),
            "currency": self.currency, "billed": self.billed,
            **({"billing_error": self.details["billing_error"]} if "billing_error" in self.details else {}),
        }


class SessionSink(Protocol):
    def ingest(self, tenant_id: str, event: SessionEvent) -> IngestOutcome: ...

    def interim_cost(self, tenant_id: str, session_id: str, as_of: datetime) -> Decimal | None: ...

    def load_session(self, tenant_id: str, session_id: str) -> dict[str, Any] | None: ...
