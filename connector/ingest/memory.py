"""An in-process sink with the pipeline's semantics (dedupe, merge, rate at end) and no database.

For ``evbill csms --dry-run``, the load bench's baseline and adapter tests that must not depend on
storage. Pricing is the rating core's (``rate``); nothing is computed here.
"""

from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal
from typing import Any

from connector.models import Customer, Tariff
from connector.models.session_event import IngestError, SessionClosed, SessionEvent
from connector.models.session_merge import apply_event, to_session
from connector.models.sink import IngestOutcome
from connector.rating import RatedSession, RatingError, RatingOptions, rate


def _data(doc: dict[str, Any]) -> dict[str, Any]:
    """The session's data without the merge's bookkeeping (as the database pipeline compares them)."""
    return {k: v for k, v in doc.items() if k not in ("sources", "status")}


class MemorySink:
    def __init__(self, tariffs: list[Tariff], customers: dict[str, Customer] | None = None) -> None:
        self.tariffs = tariffs
        self.customers = customers or {}
        self.events: dict[tuple[str, str], SessionEvent] = {}
        self.sessions: dict[tuple[str, str], dict[str, Any]] = {}
        self.rated: dict[tuple[str, str], RatedSession] = {}
        self._lock = threading.Lock()

    def _rate(self, doc: dict[str, Any], as_of: datetime | None = None) -> RatedSession:
        session = to_session(doc)
        customer = self.customers.get(session.customer_id or "")
        try:
            return rate(session, self.tariffs, customer=customer, options=RatingOptions(as_of=as_of))
        except RatingError as exc:
            raise IngestError(getattr(exc, "field", "session"), getattr(exc, "reason", str(exc))) from exc

    def ingest(self, tenant_id: str, event: SessionEvent) -> IngestOutcome:
        key = (tenant_id, event.event_id)
        skey = (tenant_id, event.session_id)
        with self._lock:
            if key in self.events:
                rated = self.rated.get(skey)
                return IngestOutcome("duplicate", event.event_id, event.session_id,
                                     total_cost=rated.invoice.amount_due if rated else None,
                                     currency=rated.currency if rated else None)
            stored = self.sessions.get(skey)
            doc = apply_event(stored, event, tenant_id)
            to_session(doc)  # validate before anything is kept
            if skey in self.rated and stored is not None:  # closed like the database pipeline's billed session
                if _data(stored) != _data(doc):
                    raise SessionClosed("session_id", f"session '{event.session_id}' is rated: it is closed to "
                                        f"{event.type} events; a billed session is corrected by a credit note only")
                rated = self.rated[skey]
                return IngestOutcome("duplicate", event.event_id, event.session_id,
                                     total_cost=rated.invoice.amount_due, currency=rated.currency)
            outcome = IngestOutcome("accepted", event.event_id, event.session_id)
            if event.type == "end":
                rated = self._rate(doc)
                self.rated[skey] = rated
                outcome.billed = {"rating": rated.to_dict()}
                outcome.total_cost = rated.invoice.amount_due
                outcome.currency = rated.currency
            self.events[key] = event
            self.sessions[skey] = doc
            return outcome

    def interim_cost(self, tenant_id: str, session_id: str, as_of: datetime) -> Decimal | None:
        doc = self.sessions.get((tenant_id, session_id))
        if doc is None or doc.get("end"):
            return None
        return self._rate(doc, as_of).invoice.amount_due

    def load_session(self, tenant_id: str, session_id: str) -> dict[str, Any] | None:
        return self.sessions.get((tenant_id, session_id))
