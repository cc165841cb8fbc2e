"""The one ingestion path: ``ingest_session_event(db, tenant_id, event)``.

Every source ends here. In one transaction: record ``(tenant_id, event_id)`` (a second time → duplicate,
nothing changes), fold the event into the stored session (``connector.models.session_merge``) and validate it as
the one ``Session`` model. Then an ``end`` event is billed by the ``Biller``:

- ``BillingService`` (the default): ``complete_session`` rates,
  records the invoice line and emits ``session.billed``; it is idempotent, so a duplicate ``end`` returns
  the same bill. ``interim_cost`` gives the running cost (``rate`` with ``as_of``).
- ``RatingOnly(tariffs)``: the rating core prices the session with tariffs given by the caller
  (``--tariff`` on the ingest commands) and the rating is kept on the session row (no invoice line).

A billed (or rated) session is closed: a later event that would change it is refused with
``SessionClosed`` (409) and nothing is kept, so the invoice, the stored rating and any re-rating keep
reading the data that was billed; corrections go through credit notes (``correct_session``). An event that
changes nothing (a re-sent ``end`` under a new id) is answered as a duplicate.

Storage is the API's tables through ``connector.storage.repo`` (``sessions``, ``session_events`` unique
per tenant + event id). No price is computed here: every biller calls the rating core.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from connector.billing.invoicing.sessions import DraftClosed, complete_session
from connector.billing.pricing.interim import interim_cost
from connector.models import Customer, Session, Tariff
from connector.models.session_event import IngestError, SessionClosed, SessionEvent
from connector.models.session_merge import apply_event, to_session
from connector.models.sink import IngestOutcome
from connector.rating import RatedSession, RatingError, RatingOptions, rate
from connector.storage import repo as store
from connector.storage.tables.core import SessionRow
from connector.validation import ProblemError

LOG = logging.getLogger("connector.billing.intake")


CLOSED_STATUSES = ("billed", "rated")
IGNORED_KEYS = ("sources", "status")  # bookkeeping of the merge, not session data


class Biller(Protocol):
    def complete(self, db: DbSession, tenant_id: str, session_id: str) -> tuple[Mapping[str, Any], Decimal | None,
                                                                              str | None]: ...

    def interim(self, db: DbSession, tenant_id: str, session_id: str, as_of: datetime) -> Decimal | None: ...


def _as_dict(value: Any) -> dict[str, Any]:
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    return value if isinstance(value, dict) else {"result": str(value)}


DRAFT_RETRIES = 5  # a draft finalized while a session end was adding to it: bill onto the next draft


class BillingService:
    """Billing proper: ``complete_session`` (invoice line, journal, ``session.billed``) and ``interim_cost``."""

    def complete(self, db: DbSession, tenant_id: str, session_id: str) -> tuple[Mapping[str, Any], Decimal | None,
                                                                              str | None]:
        for attempt in range(DRAFT_RETRIES + 1):
            try:
                billed = _as_dict(complete_session(db, tenant_id, session_id))
                db.commit()
                break
            except DraftClosed:  # the draft was finalized under us: nothing kept, bill onto the next one
                db.rollback()
                if attempt == DRAFT_RETRIES:
                    raise
        return _figures(db, tenant_id, session_id, billed)

    def complete_in(self, db: DbSession, row: SessionRow) -> dict[str, Any]:
        """Bill the session whose row this transaction just stored and holds locked; the caller commits (one
        transaction and one commit for a session end). Raises ``DraftClosed`` and billing's refusals."""
        return _as_dict(complete_session(db, row.tenant_id, row.session_id, row))

    def interim(self, db: DbSession, tenant_id: str, session_id: str, as_of: datetime) -> Decimal | None:
        return interim_cost(db, tenant_id, session_id, as_of)


class RatingOnly:
    """Price with the rating core and keep the rating on the session (no invoice line)."""

    def __init__(self, tariffs: list[Tariff] | None = None) -> None:
        self.tariffs = tariffs

    def _tariffs(self, db: DbSession, tenant_id: str, session: Session) -> tuple[list[Tariff], Customer | None]:
        customer = None
        if session.customer_id:
            row = store.get_customer(db, tenant_id, session.customer_id)
            customer = None if row is None else store.customer_model(row)
        if self.tariffs:
            return self.tariffs, customer
        if not session.tariff_id:
            raise IngestError("session.tariff_id", "required to price the session")
        tariffs = store.load_tariffs(db, tenant_id, session.tariff_id)
        if tariffs is None:
            raise IngestError("session.tariff_id", f"tariff '{session.tariff_id}' does not exist")
        return tariffs, customer

    def _rate(self, db: DbSession, tenant_id: str, doc: dict[str, Any], as_of: datetime | None = None) -> RatedSession:
        session = to_session(doc)
        tariffs, customer = self._tariffs(db, tenant_id, session)
        try:
            return rate(session, tariffs, customer, RatingOptions(as_of=as_of))
        except RatingError as exc:
            raise IngestError(exc.field, exc.reason) from exc

    def complete(self, db: DbSession, tenant_id: str, session_id: str) -> tuple[Mapping[str, Any], Decimal | None,
                                                                              str | None]:
        existing = store.get_rating(db, tenant_id, session_id)
        if existing is None:
            doc = store.get_session(db, tenant_id, session_id)
            if doc is None:
                raise IngestError("session_id", f"unknown session '{session_id}'")
            existing = store.get_rating(db, tenant_id, session_id) or self._rate(db, tenant_id, doc).to_dict()
            store.put_rating(db, tenant_id, session_id, existing)
            db.commit()
        rating = existing
        return existing, Decimal(rating["invoice"]["amount_due"]), rating["currency"]

    def interim(self, db: DbSession, tenant_id: str, session_id: str, as_of: datetime) -> Decimal | None:
        doc = store.get_session(db, tenant_id, session_id)
        if doc is None or doc.get("end"):
            return None
        return self._rate(db, tenant_id, doc, as_of).invoice.amount_due


def _figures(db: DbSession, tenant_id: str, session_id: str, billed: Mapping[str, Any]) -> tuple[
        Mapping[str, Any], Decimal | None, str | None]:
    """The bill, its amount due and currency: from what billing returned, else from the session's rating."""
    rating = billed.get("rating") or store.get_rating(db, tenant_id, session_id) or {}
    due = (rating.get("invoice") or {}).get("amount_due") or billed.get("amount_due")
    currency = rating.get("currency") or billed.get("currency")
    return billed, None if due is None else Decimal(str(due)), None if currency is None else str(currency)


def default_biller() -> Biller:
    """Billing (invoice lines, events); ``RatingOnly(tariffs)`` is for the CLI's ``--tariff`` imports."""
    return BillingService()


_tenants: set[tuple[str, str]] = set()


def _ensure_tenant(db: DbSession, tenant_id: str) -> None:
    """The tenant row exists (once per database and process: not a query per event)."""
    key = (str(db.get_bind().engine.url), tenant_id)
    if key not in _tenants:
        store.ensure_tenant(db, tenant_id)
        db.commit()
        _tenants.add(key)


NEW_SESSION_RETRIES = 2  # a new session's concurrent first events: the loser retries on the winner's row


def ingest_session_event(db: DbSession, tenant_id: str, event: SessionEvent,
                         biller: Biller | None = None) -> IngestOutcome:
    """Store, merge and (for ``end``) bill one event. Commits; raises ``IngestError`` for bad data."""
    biller = biller or default_biller()
    _ensure_tenant(db, tenant_id)
    # an end billed by BillingService is billed in the transaction that stores it: one commit, the session row
    # locked once; if billing refuses it, the event is stored alone (billing can be re-run later)
    inline = event.type == "end" and isinstance(biller, BillingService)
    billed: dict[str, Any] | None = None
    refused: ProblemError | ValueError | None = None
    conflicts = drafts = 0
    while True:
        try:
            if not store.add_event(db, tenant_id, event):
                db.rollback()
                return _duplicate(event, biller, db, tenant_id)
            row = store.get_session_row(db, tenant_id, event.session_id, lock=True)  # locked when it exists
            stored = None if row is None else dict(row.document)
            doc = apply_event(stored, event, tenant_id)
            if _closed(row, event, doc):  # raises SessionClosed when the event would change a billed one
                db.rollback()  # nothing kept, not even the event id: a later correction may carry it
                return _duplicate(event, biller, db, tenant_id)
            to_session(doc)  # the merged document must be a valid Session before anything is kept
            # a session we found none of is inserted, never updated: a row another event committed since
            # is a conflict to retry on, not a row to overwrite with a merge that never saw it
            # billed inline, a new session's row is inserted once, billed, by billing (``complete_session``)
            saved = store.put_session(db, tenant_id, doc, new=row is None, row=row, add=not inline)
            if inline:
                try:
                    billed = cast(BillingService, biller).complete_in(db, saved)
                except DraftClosed:  # the draft was finalized under us: nothing kept, start over
                    db.rollback()
                    drafts += 1
                    if drafts > DRAFT_RETRIES:
                        raise
                    continue
                except (ProblemError, ValueError) as exc:  # IngestError, RatingError, billing's refusals
                    db.rollback()
                    inline, refused = False, exc  # start over and store the event without billing it
                    continue
            db.commit()
            break
        except IngestError:
            db.rollback()
            raise
        except IntegrityError:
            # Another event of this new session inserted its row first (both found none to lock): start over,
            # now finding and locking that row, and merge into it.
            db.rollback()
            conflicts += 1
            if conflicts > NEW_SESSION_RETRIES:
                raise
    outcome = IngestOutcome("accepted", event.event_id, event.session_id)
    if billed is not None:
        outcome.billed, outcome.total_cost, outcome.currency = _figures(db, tenant_id, event.session_id, billed)
    elif refused is not None:
        _not_billed(outcome, refused, tenant_id)
    elif event.type == "end":
        _bill(outcome, biller, db, tenant_id)
    return outcome


def _duplicate(event: SessionEvent, biller: Biller, db: DbSession, tenant_id: str) -> IngestOutcome:
    """A repeat changes nothing; a repeated ``end`` answers with the session's bill."""
    outcome = IngestOutcome("duplicate", event.event_id, event.session_id)
    if event.type == "end":
        _bill(outcome, biller, db, tenant_id)
    return outcome


def _closed(row: SessionRow | None, event: SessionEvent, merged: dict[str, Any]) -> bool:
    """Is the session billed and the event a repeat of what it holds (True)? Raises ``SessionClosed`` when
    the event would change a billed session; False for a session still open. ``row``: the locked stored row
    (None: a new session, which a concurrent insert turns into an IntegrityError and a retry on its row)."""
    if row is None or row.status not in CLOSED_STATUSES:
        return False

    def data(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if k not in IGNORED_KEYS}

    if data(dict(row.document)) == data(merged):
        return True
    raise SessionClosed("session_id", f"session '{event.session_id}' is {row.status}: it is closed to "
                        f"{event.type} events; a billed session is corrected by a credit note only "
                        "(POST /v1/billing/corrections, or void or credit its invoice)")


def _bill(outcome: IngestOutcome, biller: Biller, db: DbSession, tenant_id: str) -> None:
    try:
        outcome.billed, outcome.total_cost, outcome.currency = biller.complete(db, tenant_id, outcome.session_id)
    except (ProblemError, ValueError) as exc:  # IngestError, RatingError and billing's refusals
        db.rollback()
        _not_billed(outcome, exc, tenant_id)


def _not_billed(outcome: IngestOutcome, exc: ProblemError | ValueError, tenant_id: str) -> None:
    """Stored but not billable (e.g. no tariff): reported with the field; billing can be re-run later."""
    field = str(getattr(exc, "field", None) or "session")
    reason = str(getattr(exc, "reason", exc))
    LOG.warning("session %s/%s stored, not billed: %s: %s", tenant_id, outcome.session_id, field, reason)
    outcome.details["billing_error"] = {"field": field, "reason": reason}


_ready: set[str] = set()
_ready_lock = threading.Lock()


def ensure_schema(engine: Engine) -> None:
    """Create missing tables once per engine URL (every table module's tables on the shared ``Base``)."""
    from connector.storage.tables import all_metadata

    key = str(engine.url)
    with _ready_lock:
        if key not in _ready:
            try:
                all_metadata().create_all(engine, checkfirst=True)
            except OperationalError:  # another process created them at the same moment
                all_metadata().create_all(engine, checkfirst=True)
            _ready.add(key)


class DatabaseSink:
    """The pipeline as a ``SessionSink``: one short database session per call (thread-safe)."""

    def __init__(self, engine: Engine, biller: Biller | None = None, create_tables: bool = True) -> None:
        self.engine = engine
        self.biller = biller or default_biller()
        self.sessions: Callable[[], DbSession] = sessionmaker(engine, expire_on_commit=False)
        if create_tables:  # like the API's EVBILL_CREATE_TABLES; production runs ``evbill db upgrade``
            ensure_schema(engine)

    @classmethod
    def from_url(cls, url: str, tariffs: list[Tariff] | None = None) -> DatabaseSink:
        from connector.storage.db import make_engine

        return cls(make_engine(url), RatingOnly(tariffs) if tariffs else None)

    @classmethod
    def for_app(cls, app: Any) -> DatabaseSink:
        engine = app.extensions.get("evbill.engine")
        if engine is None:
            from connector.storage.db import make_engine

            engine = make_engine(app.config["DATABASE_URL"])
        return cls(engine, create_tables=bool(app.config.get("CREATE_TABLES", True)))

    def ingest(self, tenant_id: str, event: SessionEvent) -> IngestOutcome:
        with self.sessions() as db:
            return ingest_session_event(db, tenant_id, event, self.biller)

    def interim_cost(self, tenant_id: str, session_id: str, as_of: datetime) -> Decimal | None:
        with self.sessions() as db:
            try:
                return self.biller.interim(db, tenant_id, session_id, as_of)
            except (IngestError, RatingError) as exc:
                LOG.info("no interim cost for %s/%s: %s", tenant_id, session_id, exc)
                return None

    def load_session(self, tenant_id: str, session_id: str) -> dict[str, Any] | None:
        with self.sessions() as db:
            return store.get_session(db, tenant_id, session_id)
