"""The billing service: session complete -> invoice lines + journal entry + events; the invoice lifecycle.

Pinned contract (docs/architecture.md): every function takes ``db`` then ``tenant_id`` and never commits;
``LookupError`` = 404, ``ValueError`` with ``.field``/``.reason`` = 422, ``PermissionError`` = 409.
Prices come only from ``connector.rating.rate``; this module stores, sums and posts what it returned.

Choices: a customer's sessions collect on one open draft per (customer, currency); a customer with
``invoice_per_session`` (and a session without a customer) gets a draft of its own holding that one session,
ready to finalize (the low-code flows finalize it). Credit notes have their own gapless series ``CN-000001``.
"""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from connector.billing import accounts as accounts_mod
from connector.billing import audit, invoices
from connector.billing.ledger import post_entry
from connector.billing.minor import to_major, to_minor
from connector.billing.tables import BillingSessionRow, InvoiceLineRow, InvoiceRow
from connector.ingest.events import IngestError
from connector.ingest.merge import to_session
from connector.models import Customer
from connector.money import round_money
from connector.rating import RatingOptions, rate
from connector.storage import repo
from connector.storage.tables import CustomerRow, SessionRow

LOG = logging.getLogger("connector.billing")


class BillingError(ValueError):
    """Bad input: which field, and why (the API answers 422 naming the field)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _emit(db: DbSession, tenant_id: str, type_: str, data: dict[str, Any]) -> None:
    """Into the transactional outbox (same transaction as the change); skipped until events are installed."""
    outbox = _optional("connector.events.outbox")
    if outbox is None:
        LOG.debug("events not installed: %s not emitted", type_)
        return
    outbox.emit(db, tenant_id, type_, data)


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------ sessions


def _lock_session(db: DbSession, tenant_id: str, session_id: str) -> SessionRow:
    """The session row, write-locked (a no-op UPDATE) and read fresh: concurrent completes queue here."""
    touched = db.execute(update(SessionRow).where(
        SessionRow.tenant_id == tenant_id, SessionRow.session_id == session_id).values(status=SessionRow.status))
    if touched.rowcount == 0:  # type: ignore[attr-defined]
        raise LookupError(f"session '{session_id}' does not exist")
    return db.scalars(select(SessionRow).where(SessionRow.tenant_id == tenant_id, SessionRow.session_id == session_id)
                      .execution_options(populate_existing=True)).one()


def _session_json(row: SessionRow) -> dict[str, Any]:
    return {"id": row.session_id, **{k: v for k, v in row.document.items() if k not in ("status", "tenant_id", "id")}}


def _customer(db: DbSession, tenant_id: str, customer_id: str | None) -> tuple[CustomerRow | None, Customer | None]:
    if not customer_id:
        return None, None
    db.execute(update(CustomerRow).where(CustomerRow.tenant_id == tenant_id, CustomerRow.customer_id == customer_id)
               .values(customer_class=CustomerRow.customer_class))  # one biller per customer: one open draft
    row = db.scalars(select(CustomerRow).where(CustomerRow.tenant_id == tenant_id, CustomerRow.customer_id == customer_id)
                     .execution_options(populate_existing=True)).first()
    return row, None if row is None else repo.customer_model(row)


def _optional(module: str) -> Any:
    """A sibling billing module, or None while it (or a billing module it needs) has not landed."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name.startswith("connector.billing") or exc.name.startswith("connector.events")):
            return None
        raise


def _adjustments(db: DbSession, tenant_id: str, session: Any, customer: Customer | None) -> tuple[Any, ...]:
    """Discounts/surcharges/incentives chosen by the adjustments engine (which never prices)."""
    module = _optional("connector.billing.adjustments")
    fn = getattr(module, "adjustments_for", None)
    return tuple(fn(db, tenant_id, session, customer)) if fn else ()


def rate_session(db: DbSession, tenant_id: str, row: SessionRow, customer: Customer | None) -> dict[str, Any]:
    """The stored session priced by the rating core with its stored tariff versions."""
    try:
        session = to_session(row.document)
    except IngestError as exc:
        raise BillingError(exc.field, exc.reason) from exc
    if session.end is None:
        raise BillingError("session.end", "the session has not ended; interim costs come from GET /v1/sessions")
    if not session.tariff_id:
        raise BillingError("session.tariff_id", "required to price the session")
    tariffs = repo.load_tariffs(db, tenant_id, session.tariff_id)
    if tariffs is None:
        raise BillingError("session.tariff_id", f"tariff '{session.tariff_id}' does not exist")
    options = RatingOptions(adjustments=_adjustments(db, tenant_id, session, customer))
    return rate(session, tariffs, customer, options).to_dict()


def _target_invoice(db: DbSession, tenant_id: str, customer_row: CustomerRow | None, customer_id: str | None,
                    currency: str) -> InvoiceRow:
    """The open draft for (customer, currency), or a new one; per-session customers always get a new one."""
    per_session = customer_id is None or (customer_row is not None and bool(customer_row.invoice_per_session))
    if not per_session:
        found = db.scalars(select(InvoiceRow).where(
            InvoiceRow.tenant_id == tenant_id, InvoiceRow.customer_id == customer_id, InvoiceRow.currency == currency,
            InvoiceRow.status == "draft", InvoiceRow.kind == "invoice", InvoiceRow.per_session.is_(False),
        ).order_by(InvoiceRow.created_at).execution_options(populate_existing=True)).first()
        if found is not None:
            return invoices.lock_invoice(db, tenant_id, found.invoice_id)
    invoice = InvoiceRow(tenant_id=tenant_id, invoice_id=invoices.new_id("inv"), status="draft", kind="invoice",
                         customer_id=customer_id, currency=currency, per_session=per_session)
    db.add(invoice)
    db.flush()
    return invoice


def _rating_lines(rating: dict[str, Any], currency: str) -> list[dict[str, Any]]:
    """The rating's invoice lines in minor units, each tax tagged compound or not (from the rate totals)."""
    view = rating["invoice"]
    compound = {(t["name"], Decimal(t["rate"])): bool(t["compound"]) for t in view["taxes"]}
    out = []
    for ln in view["lines"]:
        taxes = [{"name": t["name"], "rate": t["rate"], "compound": compound.get((t["name"], Decimal(t["rate"])), False),
                  "amount": to_minor(t["amount"], currency)} for t in ln["taxes"]]
        out.append({**ln, "net": to_minor(ln["net"], currency), "tax": to_minor(ln["tax"], currency),
                    "gross": to_minor(ln["gross"], currency), "taxes": taxes})
    return out


def _add_lines(db: DbSession, tenant_id: str, invoice: InvoiceRow, row: SessionRow,
               rating: dict[str, Any]) -> list[InvoiceLineRow]:
    position = invoices.next_position(db, tenant_id, invoice.invoice_id)
    added = []
    for i, ln in enumerate(_rating_lines(rating, invoice.currency)):
        line = InvoiceLineRow(
            tenant_id=tenant_id, line_id=invoices.new_id("ln"), invoice_id=invoice.invoice_id, position=position + i,
            session_id=row.session_id, station_id=row.station_id, tariff_id=rating.get("tariff_id"),
            customer_class=rating.get("customer_class"), kind=ln["kind"], category=ln["category"],
            description=ln["description"][:300], quantity=ln["quantity"], unit=ln["unit"], unit_price=ln["unit_price"],
            net=ln["net"], tax=ln["tax"], gross=ln["gross"], taxes=ln["taxes"])
        db.add(line)
        added.append(line)
    db.flush()
    invoices.extend_period(invoice, repo.aware(row.start_at), repo.aware(row.end_at))
    invoices.refresh_totals(db, invoice)
    return added


def _post_lines(db: DbSession, tenant_id: str, currency: str, lines: list[InvoiceLineRow], *, memo: str,
                reference: str, source: str, sign: int = 1, reverses: str | None = None) -> dict[str, Any] | None:
    """Post the journal entry of ``lines`` (``sign=-1``: the reversal) and emit ``journal.posted``."""
    accounts = accounts_mod.load(db, tenant_id)
    entry = post_entry(db, tenant_id, currency=currency, memo=memo, reference=reference, source=source,
                       postings=invoices.postings(lines, accounts, sign), reverses=reverses)
    if entry is not None:
        _emit(db, tenant_id, "journal.posted", {"entry": entry})
    return entry


def _billed_result(db: DbSession, tenant_id: str, billed: BillingSessionRow, rating: dict[str, Any]) -> dict[str, Any]:
    invoice = invoices.get_row(db, tenant_id, billed.invoice_id)
    return {"session_id": billed.session_id, "invoice_id": billed.invoice_id, "amount_due": billed.amount_due,
            "currency": billed.currency, "rating": rating, "invoice": invoices.invoice_json(db, invoice)}


def _check_anomalies(db: DbSession, tenant_id: str, row: SessionRow, rating: dict[str, Any]) -> None:
    check = getattr(_optional("connector.billing.anomalies"), "check_session", None)
    if check is not None:
        check(db, tenant_id, row, rating)


def complete_session(db: DbSession, tenant_id: str, session_id: str) -> dict[str, Any]:
    """Rate the ended session, add its lines to the customer's draft, post the journal entry, emit
    ``session.billed`` + ``journal.posted``. Idempotent and race-safe: callers queue on the session row
    lock and a billed session returns its stored result (``billed_sessions`` is unique per session too)."""
    row = _lock_session(db, tenant_id, session_id)
    billed = db.get(BillingSessionRow, (tenant_id, session_id), populate_existing=True)
    if billed is not None:
        return _billed_result(db, tenant_id, billed, row.rating or {})
    customer_row, customer = _customer(db, tenant_id, row.customer_id)
    rating = rate_session(db, tenant_id, row, customer)
    currency = rating["currency"]
    invoice = _target_invoice(db, tenant_id, customer_row, row.customer_id, currency)
    lines = _add_lines(db, tenant_id, invoice, row, rating)
    entry = _post_lines(db, tenant_id, currency, lines, memo=f"session {session_id} billed", reference=session_id,
                        source="session.billed")
    billed = BillingSessionRow(tenant_id=tenant_id, session_id=session_id, invoice_id=invoice.invoice_id,
                               entry_id=None if entry is None else entry["id"], currency=currency,
                               amount_due=rating["invoice"]["amount_due"])
    db.add(billed)
    row.rating = rating
    row.status = "billed"
    row.updated_at = _now()
    db.flush()
    result = _billed_result(db, tenant_id, billed, rating)
    _emit(db, tenant_id, "session.billed", {"session": _session_json(row), "rating": rating,
                                            "invoice": result["invoice"]})
    _check_anomalies(db, tenant_id, row, rating)
    return result


# ------------------------------------------------------------------ delegation to the other billing modules

_DELEGATES = {
    "on_tariff_published": ("connector.billing.rerate", "on_tariff_published"),
    "start_reconciliation": ("connector.billing.reconciliation", "start_reconciliation"),
    "get_reconciliation": ("connector.billing.reconciliation", "get_reconciliation"),
    "interim_cost": ("connector.billing.interim", "interim_cost"),
    "run_interim": ("connector.billing.interim", "run_interim"),
}


def __getattr__(name: str) -> Any:
    """``service.on_tariff_published`` etc. exist exactly when their module is installed (so the API
    answers 501 until then instead of failing on import)."""
    target = _DELEGATES.get(name)
    if target is None:
        raise AttributeError(name)
    try:
        module = importlib.import_module(target[0])
    except ModuleNotFoundError as exc:
        raise AttributeError(name) from exc
    fn = getattr(module, target[1], None)
    if fn is None:
        raise AttributeError(name)
    return fn


__all__ = ["BillingError", "complete_session", "rate_session", "to_major", "round_money", "audit", "InvalidOperation"]
