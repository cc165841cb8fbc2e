"""Billing a session: complete -> invoice lines + journal entry + events; correct a billed session.

Pinned contract (docs/architecture.md): every function takes ``db`` then ``tenant_id`` and never commits;
refusals are ``NotFound`` (404), ``FieldError`` (422) and ``Conflict`` (409) from ``connector.validation``.
Prices come only from ``connector.rating.rate``; this module stores, sums and posts what it returned.

Choices: a customer's sessions collect on one open draft per (customer, currency) (the partial unique index
``uq_invoices_open_draft`` holds it even for a customer with no row to lock); a customer with
``invoice_per_session`` (and a session without a customer) gets a draft of its own holding that one session,
ready to finalize (the low-code flows finalize it). Credit notes have their own gapless series ``CN-000001``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict, cast

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from connector.billing.invoicing import rows as invoices
from connector.billing.invoicing.lifecycle import create_credit_note
from connector.billing.invoicing.posting import BillingError, emit, post_lines
from connector.billing.invoicing.reads import SessionEndReads
from connector.billing.invoicing.reads import read as read_for_session_end
from connector.billing.ledger import audit
from connector.billing.pricing.adjustments import BillingRules
from connector.events import envelope, outbox
from connector.events.envelope import Envelope
from connector.models import Customer
from connector.models.documents import (
    DifferenceJson,
    InvoiceJson,
    InvoiceLineJson,
    InvoiceSummaryJson,
    RatedSessionJson,
)
from connector.models.session_event import IngestError
from connector.models.session_merge import to_session
from connector.money import to_major, to_minor
from connector.rating import RatingError
from connector.storage import inserts, repo
from connector.storage.tables.billing import BillingSessionRow, InvoiceLineRow, InvoiceRow
from connector.storage.tables.core import CustomerRow, SessionRow
from connector.validation import Conflict, NotFound

LOG = logging.getLogger("connector.billing")


class BilledSession(TypedDict):
    """What ``complete_session`` returns (docs/architecture.md), the API's answer as is."""

    session_id: str
    invoice_id: str
    amount_due: str
    currency: str
    rating: RatedSessionJson | dict[str, Any]  # {} when the session row holds no rating
    invoice: InvoiceSummaryJson  # totals and status, not its lines: the whole invoice is one GET away
    lines: list[InvoiceLineJson]  # this session's lines on that invoice


class CorrectedSession(TypedDict):
    """What ``correct_session`` returns: the credit note (if the old lines were issued), the invoice now
    holding the session, and the difference in major units."""

    session_id: str
    credit_note: InvoiceJson | None
    invoice_id: str
    invoice: InvoiceJson
    difference: DifferenceJson
    rating: RatedSessionJson


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------ sessions


def _lock_session(db: DbSession, tenant_id: str, session_id: str) -> SessionRow:
    """The session row, write-locked and read fresh in one no-op ``UPDATE ... RETURNING``: concurrent
    completes of one session queue here."""
    row = db.scalars(update(SessionRow).where(SessionRow.tenant_id == tenant_id, SessionRow.session_id == session_id)
                     .values(status=SessionRow.status).returning(SessionRow),
                     execution_options={"populate_existing": True}).first()
    if row is None:
        raise NotFound(f"session '{session_id}' does not exist")
    return row


class DraftClosed(Exception):  # noqa: N818 - a condition to retry on, not an error the caller reports
    """The draft a session's lines went to was finalized or voided before they were committed: roll back and
    bill again (the lines go to the customer's next draft)."""


def _session_json(row: SessionRow) -> dict[str, Any]:
    return {"id": row.session_id, **{k: v for k, v in row.document.items() if k not in ("status", "tenant_id", "id")}}


def _customer(db: DbSession, tenant_id: str, customer_id: str | None) -> tuple[CustomerRow | None, Customer | None]:
    """The customer. Row-locked (a no-op ``UPDATE ... RETURNING``) only when the tenant grants incentives:
    their monthly cap is the one rating input shared by a customer's sessions, so those sessions are rated one
    at a time. Otherwise read without a lock and one customer's session ends do not queue on it (two first
    sessions that both find no open draft create one between them: ``uq_invoices_open_draft``)."""
    from connector.billing.pricing.adjustments import get_settings  # pricing imports this package: late

    if not customer_id:
        return None, None
    if get_settings(db, tenant_id).rules.incentive is None:
        row = repo.get_customer(db, tenant_id, customer_id)
    else:
        row = db.scalars(update(CustomerRow).where(
            CustomerRow.tenant_id == tenant_id, CustomerRow.customer_id == customer_id)
            .values(customer_class=CustomerRow.customer_class, updated_at=CustomerRow.updated_at)
            .returning(CustomerRow), execution_options={"populate_existing": True}).first()
    return row, None if row is None else repo.customer_model(row)


def rate_session(db: DbSession, tenant_id: str, row: SessionRow, customer: Customer | None,
                 rules: BillingRules | None = None) -> RatedSessionJson:
    """The final bill's rating: ``pricing.inputs.inputs_for`` — the same tariff versions, switch policy,
    customer and adjustments as the interim figures and re-rating, so they agree by construction.
    ``rules``: the tenant's billing rules, read by the caller in this transaction (not read again)."""
    from connector.billing.pricing.inputs import Known, inputs_for

    try:
        session = to_session(row.document)
    except IngestError as exc:
        raise BillingError(exc.field, exc.reason) from exc
    if session.end is None:
        raise BillingError("session.end", "the session has not ended; interim costs come from GET /v1/sessions")
    # the caller's customer is the row's; rating looks up the document's (the same id on every write path)
    known = None if rules is None or session.customer_id != row.customer_id else Known(customer, rules)
    try:
        inputs = inputs_for(db, tenant_id, row, known=known)
    except (RatingError, IngestError) as exc:
        raise BillingError(exc.field, exc.reason) from exc
    return replace(inputs, customer=customer).rate().to_dict()


# the customer's open collecting draft, read fresh; built once (every session end of a customer runs it)
_OPEN_DRAFT = select(InvoiceRow).where(
    InvoiceRow.tenant_id == bindparam("tenant_id"), InvoiceRow.customer_id == bindparam("customer_id"),
    InvoiceRow.currency == bindparam("currency"), InvoiceRow.status == "draft", InvoiceRow.kind == "invoice",
    InvoiceRow.per_session.is_(False),
).order_by(InvoiceRow.created_at).execution_options(populate_existing=True)


def _target_invoice(db: DbSession, tenant_id: str, customer_row: CustomerRow | None, customer_id: str | None,
                    currency: str, lock: bool = True) -> InvoiceRow:
    """The open draft for (customer, currency), or a new one; per-session customers always get a new one.
    ``lock=False``: the draft as read, for an append that updates its totals last (``rows.append_totals``)."""
    per_session = customer_id is None or (customer_row is not None and bool(customer_row.invoice_per_session))
    if not per_session:
        found = db.scalars(_OPEN_DRAFT, {"tenant_id": tenant_id, "customer_id": customer_id, "currency": currency}
                           ).first()
        if found is not None:
            return invoices.lock_invoice(db, tenant_id, found.invoice_id) if lock else found
    invoice = InvoiceRow(tenant_id=tenant_id, invoice_id=invoices.new_id("inv"), status="draft", kind="invoice",
                         customer_id=customer_id, currency=currency, per_session=per_session)
    try:
        with db.begin_nested():
            db.add(invoice)
            db.flush()
    except IntegrityError:
        if per_session:
            raise
        # A concurrent session of a customer with no row to lock created the draft first (the unique
        # open-draft index held us until it committed): join it.
        return _target_invoice(db, tenant_id, customer_row, customer_id, currency, lock)
    return invoice


def _rating_lines(rating: RatedSessionJson, currency: str) -> list[dict[str, Any]]:
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


_LINE_COLUMNS = ("tenant_id", "line_id", "invoice_id", "position", "session_id", "station_id", "session_start",
                 "session_end", "session_time_zone", "tariff_id", "customer_class", "kind", "category", "description",
                 "quantity", "unit", "unit_price", "net", "tax", "gross", "taxes")
_BILLED_COLUMNS = ("tenant_id", "session_id", "invoice_id", "entry_id", "currency", "amount_due")


def _insert_lines(db: DbSession, tenant_id: str, invoice: InvoiceRow, row: SessionRow,
                  rating: RatedSessionJson) -> list[InvoiceLineRow]:
    """The rating's lines on ``invoice``, inserted; the invoice's totals and period are the caller's.

    One Core multi-row ``INSERT`` (after flushing what the session has pending, as the unit of work did): the
    lines are never changed in the transaction that adds them, so they need no place in the ORM session. The
    returned rows are transient objects with the stored values; columns left out take their defaults."""
    rating_lines = _rating_lines(rating, invoice.currency)
    position = invoices.next_position(db, tenant_id, invoice.invoice_id, len(rating_lines))
    start, end = repo.aware(row.start_at), repo.aware(row.end_at)
    added = [InvoiceLineRow(
        tenant_id=tenant_id, line_id=invoices.new_id("ln"), invoice_id=invoice.invoice_id, position=position + i,
        session_id=row.session_id, station_id=row.station_id, session_start=start,
        session_end=end, session_time_zone=rating.get("time_zone"), tariff_id=rating.get("tariff_id"),
        customer_class=rating.get("customer_class"), kind=ln["kind"], category=ln["category"],
        description=ln["description"][:300], quantity=ln["quantity"], unit=ln["unit"], unit_price=ln["unit_price"],
        net=ln["net"], tax=ln["tax"], gross=ln["gross"], taxes=ln["taxes"]) for i, ln in enumerate(rating_lines)]
    inserts.insert_rows(db, InvoiceLineRow, [inserts.values_of(ln, _LINE_COLUMNS) for ln in added])
    return added


def _insert_billed(db: DbSession, billed: BillingSessionRow) -> None:
    """The session's bill row, by a Core ``INSERT`` (nothing changes it in this transaction)."""
    inserts.insert_rows(db, BillingSessionRow, [inserts.values_of(billed, _BILLED_COLUMNS)])


def _add_lines(db: DbSession, tenant_id: str, invoice: InvoiceRow, row: SessionRow,
               rating: RatedSessionJson) -> list[InvoiceLineRow]:
    """Lines onto a draft this transaction holds locked, totals and period updated at once."""
    added = _insert_lines(db, tenant_id, invoice, row, rating)
    invoices.extend_period(invoice, repo.aware(row.start_at), repo.aware(row.end_at))
    invoices.add_to_totals(invoice, added)
    db.flush()
    return added


def _billed_result(db: DbSession, tenant_id: str, billed: BillingSessionRow,
                   rating: RatedSessionJson | dict[str, Any], added: list[InvoiceLineRow] | None = None,
                   invoice: InvoiceRow | None = None, reads: SessionEndReads | None = None) -> BilledSession:
    """``added``: the lines this request just inserted, answered as they are instead of read back; ``invoice``
    and ``reads``: the invoice they went to and this request's reads, so neither is looked up again."""
    if invoice is None:
        invoice = invoices.get_row(db, tenant_id, billed.invoice_id)
    lines = (invoices.session_lines_json(db, tenant_id, invoice, billed.session_id) if added is None
             else [invoices.line_json(ln, invoice.currency) for ln in sorted(added, key=lambda ln: (ln.position, ln.line_id))])
    summary = (invoices.invoice_summary(db, invoice) if reads is None  # the draft is the session's customer's
               else invoices.summary_of(invoice, reads.customer_row))
    return {"session_id": billed.session_id, "invoice_id": billed.invoice_id, "amount_due": billed.amount_due,
            "currency": billed.currency, "rating": rating, "invoice": summary, "lines": lines}


def _check_anomalies(db: DbSession, tenant_id: str, row: SessionRow, rating: RatedSessionJson,
                     reads: SessionEndReads) -> None:
    from connector.billing.anomalies import check_session  # anomalies imports service: a late import

    check_session(db, tenant_id, row, rating, limits=reads.thresholds)


def complete_session(db: DbSession, tenant_id: str, session_id: str, row: SessionRow | None = None) -> BilledSession:
    """Rate the ended session, add its lines to the customer's draft, post the journal entry, emit
    ``session.billed`` + ``journal.posted``. Idempotent and race-safe: callers queue on the session row
    lock and a billed session returns its stored result (``billed_sessions`` is unique per session too).

    The draft is not locked while the session is billed: its lines go in with positions that need no lock,
    and its totals are added by one ``UPDATE`` near the end (``rows.append_totals``), so one customer's
    session ends hold the draft's row lock only from there to the commit, which the caller does next. When
    the draft was finalized or voided meanwhile that raises ``DraftClosed``: roll back and call again.
    ``row``: the session's row this transaction already holds locked (the intake stored it just now), or a
    new session's row the intake has not stored yet: it is inserted here once, billed."""
    given = row is not None and row.status != "billed"  # status and bill row change together: no bill to find
    if row is None:
        row = _lock_session(db, tenant_id, session_id)
    billed = None if given else db.get(BillingSessionRow, (tenant_id, session_id), populate_existing=True)
    if billed is not None:
        return _billed_result(db, tenant_id, billed, row.rating or {})
    reads = read_for_session_end(db, tenant_id, row.customer_id)
    rating = rate_session(db, tenant_id, row, reads.customer, reads.rules)
    currency = rating["currency"]
    invoice = _target_invoice(db, tenant_id, reads.customer_row, row.customer_id, currency, lock=False)
    lines = _insert_lines(db, tenant_id, invoice, row, rating)
    events: list[Envelope] = []  # journal.posted now, session.billed last: one INSERT for both
    entry = post_lines(db, tenant_id, currency, lines, memo=f"session {session_id} billed", reference=session_id,
                       source="session.billed", accounts=reads.accounts, events=events)
    billed = BillingSessionRow(tenant_id=tenant_id, session_id=session_id, invoice_id=invoice.invoice_id,
                               entry_id=None if entry is None else entry["id"], currency=currency,
                               amount_due=rating["invoice"]["amount_due"])
    _insert_billed(db, billed)
    row.rating = rating
    row.status = "billed"
    row.updated_at = _now()
    db.add(row)  # the intake hands a new session's row over unstored: it goes in now, billed, in one INSERT
    _check_anomalies(db, tenant_id, row, rating, reads)
    db.flush()
    # the last writes: the draft's totals (its row lock from here to the caller's commit) and the event
    if not invoices.append_totals(db, invoice, lines, repo.aware(row.start_at), repo.aware(row.end_at)):
        raise DraftClosed(f"invoice '{invoice.invoice_id}' is no longer a draft")
    result = _billed_result(db, tenant_id, billed, rating, lines, invoice, reads)
    events.append(envelope.build(tenant_id, "session.billed", {
        "session": _session_json(row), "rating": rating, "invoice": cast(InvoiceJson, result["invoice"]),
        "lines": result["lines"]}))
    outbox.insert_rows(db, events)
    return result


def _sum(lines: list[InvoiceLineRow], attr: str) -> int:
    return sum(getattr(ln, attr) for ln in lines if ln.category != "incentive")


def correct_session(db: DbSession, tenant_id: str, session_id: str, new_rating: RatedSessionJson,
                    reason: str) -> CorrectedSession:
    """Replace a billed session's lines with ``new_rating`` (a ``RatedSession.to_dict()`` from the rating core).

    Never a silent edit of an issued document: on a finalized/paid invoice the old lines are credited by a
    credit note and the new lines go to the customer's open draft; on a draft the old lines are reversed in
    the journal and replaced. Returns the credit note (or None), the invoice now holding the session and the
    difference (major units)."""
    row = _lock_session(db, tenant_id, session_id)
    billed = db.get(BillingSessionRow, (tenant_id, session_id), populate_existing=True)
    if billed is None:
        raise Conflict(f"session '{session_id}' is not billed yet; complete it instead of correcting it")
    if not isinstance(new_rating, dict) or not isinstance(new_rating.get("invoice"), dict):
        raise BillingError("new_rating", "a RatedSession.to_dict() with its invoice view")
    if new_rating.get("currency") != billed.currency:
        raise BillingError("new_rating.currency", f"must stay {billed.currency} for session '{session_id}'")
    old_invoice = invoices.lock_invoice(db, tenant_id, billed.invoice_id)
    credited = {ln.credits_line for ln in db.scalars(select(InvoiceLineRow).where(
        InvoiceLineRow.tenant_id == tenant_id, InvoiceLineRow.session_id == session_id,
        InvoiceLineRow.credits_line.is_not(None)))}
    old_lines = [ln for ln in invoices.lines_of(db, tenant_id, old_invoice.invoice_id)
                 if ln.session_id == session_id and ln.line_id not in credited]
    credit_note = None
    if old_invoice.status == "draft":
        post_lines(db, tenant_id, billed.currency, old_lines, memo=f"session {session_id} corrected: {reason}",
                   reference=session_id, source="session.corrected", sign=-1)
        for ln in old_lines:
            db.delete(ln)
        db.flush()
        invoices.refresh_totals(db, old_invoice)
        target = old_invoice
    else:
        if old_invoice.status in ("finalized", "paid") and old_lines:
            credit_note = create_credit_note(db, tenant_id, old_invoice.invoice_id, reason=reason,
                                             lines=[ln.line_id for ln in old_lines])
        customer_row, _customer_model = _customer(db, tenant_id, row.customer_id)
        target = _target_invoice(db, tenant_id, customer_row, row.customer_id, billed.currency)
    new_lines = _add_lines(db, tenant_id, target, row, new_rating)
    post_lines(db, tenant_id, billed.currency, new_lines, memo=f"session {session_id} re-billed: {reason}",
               reference=session_id, source="session.corrected")
    before = {"invoice_id": billed.invoice_id, "amount_due": billed.amount_due}
    billed.invoice_id, billed.amount_due = target.invoice_id, new_rating["invoice"]["amount_due"]
    row.rating, row.status, row.updated_at = new_rating, "billed", _now()
    db.flush()
    audit.record(db, tenant_id, "session", session_id, "correct", before,
                 {"invoice_id": target.invoice_id, "amount_due": billed.amount_due, "reason": reason})
    difference: DifferenceJson = {"net": str(to_major(_sum(new_lines, "net") - _sum(old_lines, "net"), billed.currency)),
                  "gross": str(to_major(_sum(new_lines, "gross") - _sum(old_lines, "gross"), billed.currency))}
    target_json = invoices.invoice_json(db, target)
    if credit_note is not None:  # the credit reaches the platforms as credit_note.issued; so must the new charge
        emit(db, tenant_id, "session.billed", {  # like a first bill: the invoice's summary and this session's lines
            "session": _session_json(row), "rating": new_rating,
            "invoice": cast(InvoiceJson, invoices.invoice_summary(db, target)),
            "lines": invoices.session_lines_json(db, tenant_id, target, session_id),
            "correction": {"credit_note_id": credit_note["id"], "credit_note_number": credit_note.get("number"),
                           "reason": reason}})
    return {"session_id": session_id, "credit_note": credit_note, "invoice_id": target.invoice_id,
            "invoice": target_json, "difference": difference, "rating": new_rating}
