"""Invoice lifecycle: draft -> finalized (gapless number) -> paid | void; credit notes reference the original.

Every transition locks the invoice row, checks the state (``Conflict``, a 409, for an illegal one),
posts its journal entry, writes the audit row and emits its event in the caller's transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from connector.billing.invoicing import rows as invoices
from connector.billing.invoicing import vat
from connector.billing.invoicing.posting import BillingError, emit, post_lines
from connector.billing.invoicing.vat import InvoiceVat
from connector.billing.ledger import accounts as accounts_mod
from connector.billing.ledger import audit
from connector.billing.ledger.journal import post_entry
from connector.models.documents import InvoiceJson
from connector.money import major_str, round_money, to_major, to_minor
from connector.storage import paging
from connector.storage.tables.billing import InvoiceLineRow, InvoiceRow
from connector.storage.tables.payments import PaymentRow
from connector.validation import Conflict

STATUSES = ("draft", "finalized", "paid", "void")
KINDS = ("invoice", "credit_note")


def _now() -> datetime:
    return datetime.now(UTC)


def _state(invoice: InvoiceRow) -> dict[str, Any]:
    return {"status": invoice.status, "number": invoice.number, "amount_due": major_str(invoice.amount_due, invoice.currency)}


def list_invoices(db: DbSession, tenant_id: str, status: str | None = None, customer_id: str | None = None,
                  session_id: str | None = None, limit: int = 100, after: str | None = None,
                  created_from: datetime | None = None, created_to: datetime | None = None,
                  kind: str | None = None) -> dict[str, list[InvoiceJson]]:
    """Invoices and credit notes, newest first; ``kind`` keeps one of the two (a credit-note trigger samples
    credit notes only); ``session_id`` finds the invoice(s) holding that session; ``after`` (an invoice id)
    pages on (``UnknownCursor`` when it is not in the list); ``created_to`` excludes."""
    if status is not None and status not in STATUSES:
        raise BillingError("status", f"one of: {', '.join(STATUSES)}")
    if kind is not None and kind not in KINDS:
        raise BillingError("kind", f"one of: {', '.join(KINDS)}")
    query = select(InvoiceRow).where(InvoiceRow.tenant_id == tenant_id)
    if status:
        query = query.where(InvoiceRow.status == status)
    if kind:
        query = query.where(InvoiceRow.kind == kind)
    if customer_id:
        query = query.where(InvoiceRow.customer_id == customer_id)
    if session_id:
        query = query.where(InvoiceRow.invoice_id.in_(select(InvoiceLineRow.invoice_id).where(
            InvoiceLineRow.tenant_id == tenant_id, InvoiceLineRow.session_id == session_id)))
    if created_from is not None:
        query = query.where(InvoiceRow.created_at >= created_from)
    if created_to is not None:
        query = query.where(InvoiceRow.created_at < created_to)
    query = paging.after_row(db, query, [(InvoiceRow.created_at, True)], InvoiceRow.invoice_id, InvoiceRow.tenant_id,
                             tenant_id, after)
    rows = list(db.scalars(query.limit(limit)))
    lines: dict[str, list[InvoiceLineRow]] = {row.invoice_id: [] for row in rows}
    if rows:  # one query for every listed invoice's lines (not one per invoice)
        for ln in db.scalars(select(InvoiceLineRow).where(
                InvoiceLineRow.tenant_id == tenant_id, InvoiceLineRow.invoice_id.in_(list(lines))
        ).order_by(InvoiceLineRow.position, InvoiceLineRow.line_id)):
            lines[ln.invoice_id].append(ln)
    return {"items": [invoices.invoice_json(db, row, lines[row.invoice_id]) for row in rows]}


def get_invoice(db: DbSession, tenant_id: str, invoice_id: str) -> InvoiceJson:
    return invoices.invoice_json(db, invoices.get_row(db, tenant_id, invoice_id))


def invoice_csv(db: DbSession, tenant_id: str, invoice_id: str) -> str:
    return invoices.invoice_csv(get_invoice(db, tenant_id, invoice_id))


def finalize_invoice(db: DbSession, tenant_id: str, invoice_id: str,
                     vat_policy: InvoiceVat = vat.DEFAULT) -> InvoiceJson:
    """Give a draft its gapless number and issue date, its VAT stated by ``vat_policy`` (``vat.py``); it is
    immutable from now on."""
    invoice = invoices.lock_invoice(db, tenant_id, invoice_id)
    if invoice.status != "draft":
        raise Conflict(f"invoice '{invoice_id}' is {invoice.status}; only a draft can be finalized")
    if not invoices.lines_of(db, tenant_id, invoice_id):
        raise Conflict(f"invoice '{invoice_id}' has no lines; nothing to finalize")
    before = _state(invoice)
    invoice.number = invoices.next_number(db, tenant_id, invoice.kind)
    moved = vat.apply_on_finalize(db, invoice, vat_policy)
    invoice.status, invoice.issued_at = "finalized", _now()
    db.flush()
    audit.record(db, tenant_id, "invoice", invoice_id, "finalize", before, _state(invoice))
    doc = invoices.invoice_json(db, invoice)
    emit(db, tenant_id, "invoice.finalized", {"invoice": doc})
    if moved:  # platforms that booked the sessions as rated post the difference (docs/rating.md)
        emit(db, tenant_id, "invoice.vat_restated",
             {"invoice": doc, "restatement": vat.restatement_json(moved, invoice.currency)})
    return doc


def _credit_notes(db: DbSession, tenant_id: str, invoice_id: str) -> list[InvoiceRow]:
    return list(db.scalars(select(InvoiceRow).where(
        InvoiceRow.tenant_id == tenant_id, InvoiceRow.credit_note_of == invoice_id, InvoiceRow.status != "void")))


def void_invoice(db: DbSession, tenant_id: str, invoice_id: str, reason: str | None = None) -> InvoiceJson:
    """Cancel a draft or an unpaid finalized invoice (its number stays used); the journal is reversed."""
    invoice = invoices.lock_invoice(db, tenant_id, invoice_id)
    if invoice.kind != "invoice":
        raise Conflict("a credit note cannot be voided; issue an invoice instead")
    if invoice.status not in ("draft", "finalized"):
        raise Conflict(f"invoice '{invoice_id}' is {invoice.status}; only draft or unpaid invoices can be voided")
    if _credit_notes(db, tenant_id, invoice_id):
        raise Conflict(f"invoice '{invoice_id}' has credit notes; credit the rest instead of voiding")
    before = _state(invoice)
    lines = invoices.lines_of(db, tenant_id, invoice_id)
    post_lines(db, tenant_id, invoice.currency, lines, memo=f"invoice {invoice.number or invoice_id} voided",
               reference=invoice_id, source="invoice.voided", sign=-1)
    invoice.status, invoice.voided_at, invoice.reason = "void", _now(), reason
    db.flush()
    audit.record(db, tenant_id, "invoice", invoice_id, "void", before, {**_state(invoice), "reason": reason})
    doc = invoices.invoice_json(db, invoice, lines)
    emit(db, tenant_id, "invoice.voided", {"invoice": doc})
    return doc


def _amount(value: Any, currency: str, field: str = "amount") -> int:
    """A request amount in major units (``"1.50"``) as minor units; more decimals than the currency has is an error."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise BillingError(field, "a decimal amount in the invoice currency, e.g. \"1.50\"") from exc
    if not amount.is_finite() or amount <= 0:
        raise BillingError(field, "must be greater than zero")
    try:
        return to_minor(amount, currency)
    except ValueError as exc:
        raise BillingError(field, f"more decimals than {currency} has") from exc


def _share(value: int, part: int, whole: int, currency: str) -> int:
    """``value * part / whole`` rounded to the minor unit by the money policy."""
    exact = to_major(value, currency) * Decimal(part) / Decimal(whole)
    return to_minor(round_money(exact, currency), currency)


def _copy_line(ln: InvoiceLineRow, invoice_id: str, position: int) -> InvoiceLineRow:
    return InvoiceLineRow(
        tenant_id=ln.tenant_id, line_id=invoices.new_id("ln"), invoice_id=invoice_id, position=position,
        session_id=ln.session_id, station_id=ln.station_id, session_start=ln.session_start,
        session_end=ln.session_end, session_time_zone=ln.session_time_zone, tariff_id=ln.tariff_id,
        customer_class=ln.customer_class, kind=ln.kind, category=ln.category, description=f"Credit: {ln.description}"[:300], quantity=ln.quantity,
        unit=ln.unit, unit_price=ln.unit_price, net=ln.net, tax=ln.tax, gross=ln.gross, taxes=list(ln.taxes),
        vat_rounding=ln.vat_rounding or 0, credits_line=ln.line_id)


def _amount_line(original: InvoiceRow, lines: list[InvoiceLineRow], gross: int, invoice_id: str,
                 reason: str | None) -> InvoiceLineRow:
    """One credit line of ``gross`` split into net and taxes in the proportions of the original invoice
    (each tax's share of the gross, rounded by the money policy; the net takes the remainder)."""
    totals = invoices.tax_totals_minor([ln for ln in lines if ln.category != "incentive"])
    whole = original.gross_total
    taxes = []
    for t in totals:
        share = _share(gross, int(t["amount"]), whole, original.currency)
        base = _share(gross, int(t["taxable_base"]), whole, original.currency)
        taxes.append({"name": t["name"], "rate": t["rate"], "compound": t["compound"], "amount": share, "base": base})
    tax = sum(t["amount"] for t in taxes)
    return InvoiceLineRow(
        tenant_id=original.tenant_id, line_id=invoices.new_id("ln"), invoice_id=invoice_id, position=0,
        kind="credit", category="adjustment", description=(reason or "Credit")[:300], quantity="1", unit="",
        unit_price=str(to_major(gross - tax, original.currency)), net=gross - tax, tax=tax, gross=gross, taxes=taxes)


def _line_ids(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise BillingError("lines", "a non-empty list of line ids of the invoice")
    return value


def create_credit_note(db: DbSession, tenant_id: str, invoice_id: str, reason: str | None = None,
                       lines: list[str] | None = None, amount: Any = None) -> InvoiceJson:
    """Credit a finalized (or paid) invoice: in full (default: every line not yet credited), some of its lines
    (``lines``: line ids, credited in full), or a gross ``amount`` in major units split like the invoice's
    taxes. Numbered at once in the credit-note series (``CN-000001``); the journal entry reverses it."""
    original = invoices.lock_invoice(db, tenant_id, invoice_id)
    if original.kind != "invoice":
        raise Conflict("a credit note cannot be credited")
    if original.status not in ("finalized", "paid"):
        raise Conflict(f"invoice '{invoice_id}' is {original.status}; only a finalized or paid invoice can be "
                       "credited (void or change a draft instead)")
    if lines is not None and amount is not None:
        raise BillingError("amount", "give either lines or amount, not both")
    originals = invoices.lines_of(db, tenant_id, invoice_id)
    notes = _credit_notes(db, tenant_id, invoice_id)
    credited = sum(n.amount_due for n in notes)
    remaining = original.amount_due - credited
    done: set[str] = set()
    for note in notes:
        done.update(ln.credits_line for ln in invoices.lines_of(db, tenant_id, note.invoice_id) if ln.credits_line)
    note = InvoiceRow(tenant_id=tenant_id, invoice_id=invoices.new_id("cn"), kind="credit_note",
                      credit_note_of=invoice_id, customer_id=original.customer_id, currency=original.currency,
                      period_start=original.period_start, period_end=original.period_end, reason=reason)
    if amount is not None:
        gross = _amount(amount, original.currency)
        if gross > remaining:
            raise BillingError("amount", f"exceeds what is left to credit ({to_major(remaining, original.currency)} "
                                         f"{original.currency})")
        new_lines = [_amount_line(original, originals, gross, note.invoice_id, reason)]
    else:
        by_id = {ln.line_id: ln for ln in originals}
        if lines is not None:
            chosen = []
            for i, line_id in enumerate(_line_ids(lines)):
                if line_id not in by_id:
                    raise BillingError(f"lines[{i}]", f"'{line_id}' is not a line of invoice '{invoice_id}'")
                if line_id in done:
                    raise BillingError(f"lines[{i}]", f"line '{line_id}' is already credited")
                chosen.append(by_id[line_id])
        else:
            if any(ln.credits_line is None for n in notes for ln in invoices.lines_of(db, tenant_id, n.invoice_id)):
                raise BillingError("amount", "the invoice was credited by amount before; give the amount to credit")
            chosen = [ln for ln in originals if ln.line_id not in done]
        if not chosen or remaining <= 0:
            raise Conflict(f"invoice '{invoice_id}' is fully credited")
        new_lines = [_copy_line(ln, note.invoice_id, i) for i, ln in enumerate(chosen)]
    db.add(note)
    db.add_all(new_lines)
    db.flush()
    invoices.refresh_totals(db, note)
    note.number = invoices.next_number(db, tenant_id, "credit_note")
    note.status, note.issued_at = "finalized", _now()
    db.flush()
    post_lines(db, tenant_id, note.currency, new_lines, memo=f"credit note {note.number} for {original.number}",
               reference=invoice_id, source="credit_note.issued", sign=-1)
    audit.record(db, tenant_id, "invoice", note.invoice_id, "credit_note", None,
                 {**_state(note), "credit_note_of": invoice_id, "reason": reason})
    doc = invoices.invoice_json(db, note, new_lines)
    emit(db, tenant_id, "credit_note.issued", {"invoice": doc})
    return doc


def _paid_at(value: Any) -> datetime:
    if value is None:
        return _now()
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise BillingError("paid_at", "an ISO 8601 date-time with offset") from exc
    if parsed.tzinfo is None:
        raise BillingError("paid_at", "must carry a time zone offset")
    return parsed


def mark_invoice_paid(db: DbSession, tenant_id: str, invoice_id: str, paid_at: Any = None,
                      reference: str | None = None, amount: Any = None) -> InvoiceJson:
    """Record the payment of what is still due (amount due minus credit notes minus what payment platforms paid
    already): cash debit, AR credit, a ``manual`` payment row. A partial amount is refused (``amount`` must equal
    what is due); partial payments come from the payment platforms (``connector.billing.payments``)."""
    invoice = invoices.lock_invoice(db, tenant_id, invoice_id)
    if invoice.kind != "invoice" or invoice.status != "finalized":
        raise Conflict(f"{invoice.kind} '{invoice_id}' is {invoice.status}; only a finalized invoice can be "
                       "marked paid")
    when = _paid_at(paid_at)
    from connector.billing.payments.record import paid_of

    total_due = invoice.amount_due - sum(n.amount_due for n in _credit_notes(db, tenant_id, invoice_id))
    if total_due <= 0:
        raise Conflict(f"invoice '{invoice_id}' is fully credited; nothing is due")
    due = total_due - paid_of(db, tenant_id, invoice_id)  # what payment platforms paid in part already
    if due <= 0:
        raise Conflict(f"invoice '{invoice_id}' is paid in full by its payments")
    if amount is not None and _amount(amount, invoice.currency) != due:
        raise BillingError("amount", f"must equal the amount due {to_major(due, invoice.currency)} "
                                     f"{invoice.currency} (partial payments are not supported)")
    before = _state(invoice)
    accounts = accounts_mod.load(db, tenant_id)
    entry = post_entry(db, tenant_id, currency=invoice.currency, memo=f"invoice {invoice.number} paid",
                       reference=invoice_id, source="invoice.paid", date=when,
                       postings=[(accounts.cash, due, "payment received"), (accounts.receivable, -due,
                                                                             "accounts receivable")])
    if entry is not None:
        emit(db, tenant_id, "journal.posted", {"entry": entry})
    db.add(PaymentRow(tenant_id=tenant_id, payment_id=invoices.new_id("pay"), invoice_id=invoice_id, platform="manual",
                      kind="payment", status="applied", vendor_ref=f"{invoice_id}:{reference or 'manual'}"[:200],
                      currency=invoice.currency, amount=due, method="manual", paid_at=when, vendor_settled=True,
                      entry_id=entry["id"] if entry is not None else None))
    invoice.status, invoice.paid_at, invoice.payment_reference = "paid", when, reference
    db.flush()
    audit.record(db, tenant_id, "invoice", invoice_id, "mark_paid", before,
                 {**_state(invoice), "paid_at": when.isoformat(), "reference": reference})
    doc = invoices.invoice_json(db, invoice)
    emit(db, tenant_id, "invoice.paid", {"invoice": doc})
    return doc
