"""Apply what a payment platform says to our invoice: one payment, or the reversal of one.

Why one place: the invoice row is locked, so a payment that arrives from Stripe and PayPal at the same moment
settles the invoice once; the second one is kept as a ``duplicate`` and raised as an anomaly instead of being
booked. Payments post cash against receivables; reversals post the opposite and reopen a paid invoice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from connector.billing import anomalies
from connector.billing.invoicing import rows as invoices
from connector.billing.invoicing.posting import emit
from connector.billing.ledger import accounts as accounts_mod
from connector.billing.ledger import audit
from connector.billing.ledger.journal import post_entry
from connector.money import major_str
from connector.storage.tables.billing import InvoiceRow
from connector.storage.tables.payments import PaymentRow
from connector.validation import NotFound


@dataclass(frozen=True)
class VendorPayment:
    """Money a vendor received for our invoice ``invoice_id`` (``amount`` in our currency's minor units)."""

    platform: str
    invoice_id: str
    vendor_ref: str
    amount: int
    currency: str
    paid_at: datetime
    method: str | None = None
    vendor_invoice: str | None = None
    settled: bool = False  # the vendor considers its invoice fully paid


@dataclass(frozen=True)
class VendorReversal:
    """A payment that failed or came back. ``reverses``: the vendor ref of the payment it undoes (None: a failed
    attempt that never paid, e.g. Stripe ``invoice.payment_failed``); ``amount`` None: all of it."""

    platform: str
    invoice_id: str
    vendor_ref: str
    reason: str
    kind: str  # failed | returned
    at: datetime
    reverses: str | None = None
    amount: int | None = None
    vendor_invoice: str | None = None


def _credited(db: DbSession, tenant_id: str, invoice_id: str) -> int:
    return int(db.scalar(select(func.coalesce(func.sum(InvoiceRow.amount_due), 0)).where(
        InvoiceRow.tenant_id == tenant_id, InvoiceRow.credit_note_of == invoice_id, InvoiceRow.status != "void")) or 0)


def due_of(db: DbSession, invoice: InvoiceRow) -> int:
    """What the customer owes in total: amount due minus credit notes (minor units)."""
    return invoice.amount_due - _credited(db, invoice.tenant_id, invoice.invoice_id)


def paid_of(db: DbSession, tenant_id: str, invoice_id: str) -> int:
    """Applied payments minus applied reversals (minor units)."""
    rows = db.execute(select(PaymentRow.kind, func.sum(PaymentRow.amount)).where(
        PaymentRow.tenant_id == tenant_id, PaymentRow.invoice_id == invoice_id, PaymentRow.status == "applied",
    ).group_by(PaymentRow.kind)).all()
    sums = {kind: int(total or 0) for kind, total in rows}
    return sums.get("payment", 0) - sums.get("reversal", 0)


def _existing(db: DbSession, tenant_id: str, platform: str, kind: str, vendor_ref: str) -> PaymentRow | None:
    return db.scalars(select(PaymentRow).where(
        PaymentRow.tenant_id == tenant_id, PaymentRow.platform == platform, PaymentRow.kind == kind,
        PaymentRow.vendor_ref == vendor_ref)).first()


def _anomaly(db: DbSession, tenant_id: str, rule: str, invoice: InvoiceRow | None, message: str,
             details: dict[str, Any], key: tuple[str, ...]) -> None:
    if rule in anomalies.thresholds(db, tenant_id).disabled_rules:
        return
    details = {**details, "invoice_id": invoice.invoice_id if invoice else details.get("invoice_id"),
               "invoice_number": invoice.number if invoice else None}
    anomalies.record(db, tenant_id, anomalies.make(tenant_id, rule, None, None, message, details, key))


def _lock(db: DbSession, tenant_id: str, invoice_id: str) -> InvoiceRow | None:
    try:
        return invoices.lock_invoice(db, tenant_id, invoice_id)
    except NotFound:
        return None


def _post(db: DbSession, tenant_id: str, invoice: InvoiceRow, amount: int, memo: str, source: str,
          when: datetime) -> str | None:
    """Cash against receivables (``amount`` < 0: the reversal); emits ``journal.posted``."""
    accounts = accounts_mod.load(db, tenant_id)
    entry = post_entry(db, tenant_id, currency=invoice.currency, memo=memo, reference=invoice.invoice_id,
                       source=source, date=when, postings=[(accounts.cash, amount, "payment received" if amount > 0
                                                            else "payment reversed"),
                                                           (accounts.receivable, -amount, "accounts receivable")])
    if entry is None:
        return None
    emit(db, tenant_id, "journal.posted", {"entry": entry})
    return str(entry["id"])


def _row(tenant_id: str, invoice: InvoiceRow, **values: Any) -> PaymentRow:
    return PaymentRow(tenant_id=tenant_id, payment_id="pay_" + uuid.uuid4().hex[:24], invoice_id=invoice.invoice_id,
                      currency=invoice.currency, **values)


def _state(invoice: InvoiceRow, paid: int) -> dict[str, Any]:
    return {"status": invoice.status, "paid": major_str(paid, invoice.currency),
            "amount_due": major_str(invoice.amount_due, invoice.currency)}


def apply_payment(db: DbSession, tenant_id: str, p: VendorPayment) -> dict[str, Any]:
    """Record ``p`` once; mark the invoice paid when the payments cover what is due. Never commits.

    Outcomes: ``paid``, ``partial``, ``already_recorded`` (this vendor payment was seen), ``duplicate`` (the
    invoice was settled already, e.g. by another platform: kept, not booked, anomaly ``unexpected_payment``),
    ``ignored`` (not our invoice, or one that cannot take a payment)."""
    invoice = _lock(db, tenant_id, p.invoice_id)
    if invoice is None or invoice.kind != "invoice":
        return {"outcome": "ignored", "reason": f"no invoice '{p.invoice_id}'"}
    if _existing(db, tenant_id, p.platform, "payment", p.vendor_ref) is not None:
        return {"outcome": "already_recorded", "invoice_id": invoice.invoice_id}
    base = {"platform": p.platform, "kind": "payment", "vendor_ref": p.vendor_ref[:200],
            "vendor_invoice": p.vendor_invoice, "amount": p.amount, "method": (p.method or None) and p.method[:60],
            "paid_at": p.paid_at, "vendor_settled": p.settled}
    details = {"platform": p.platform, "vendor_ref": p.vendor_ref, "amount": major_str(p.amount, p.currency),
               "currency": p.currency}
    if p.currency != invoice.currency or invoice.status in ("draft", "void") or invoice.status == "paid":
        why = (f"paid in {p.currency}, billed in {invoice.currency}" if p.currency != invoice.currency
               else f"the invoice is {invoice.status}")
        if p.currency == invoice.currency:
            db.add(_row(tenant_id, invoice, status="duplicate", reason=why[:300], **base))
            db.flush()
        _anomaly(db, tenant_id, "unexpected_payment", invoice,
                 f"{p.platform} reports a payment of {details['amount']} {p.currency} for invoice "
                 f"{invoice.number or invoice.invoice_id}, but {why}", {**details, "reason": why},
                 (p.platform, p.vendor_ref))
        return {"outcome": "duplicate", "invoice_id": invoice.invoice_id, "reason": why}
    due, before_paid = due_of(db, invoice), paid_of(db, tenant_id, invoice.invoice_id)
    before = _state(invoice, before_paid)
    entry_id = _post(db, tenant_id, invoice, p.amount, f"invoice {invoice.number} payment via {p.platform}",
                     "payment.received", p.paid_at)
    row = _row(tenant_id, invoice, status="applied", entry_id=entry_id, **base)
    db.add(row)
    db.flush()
    paid = before_paid + p.amount
    outcome = "partial"
    if paid >= due:
        outcome = "paid"
        invoice.status, invoice.paid_at = "paid", p.paid_at
        invoice.payment_reference = f"{p.platform}:{p.vendor_ref}"[:200]
    db.flush()
    audit.record(db, tenant_id, "invoice", invoice.invoice_id, "payment", before,
                 {**_state(invoice, paid), "payment_id": row.payment_id, "platform": p.platform,
                  "vendor_ref": p.vendor_ref})
    if outcome == "paid":
        doc = invoices.invoice_json(db, invoice)
        emit(db, tenant_id, "invoice.paid", {"invoice": doc, "payment": row.to_dict()})
    return {"outcome": outcome, "invoice_id": invoice.invoice_id, "payment_id": row.payment_id,
            "paid": major_str(paid, invoice.currency), "due": major_str(due, invoice.currency)}


def apply_reversal(db: DbSession, tenant_id: str, r: VendorReversal) -> dict[str, Any]:
    """A failed or returned payment: reverse what it paid (cash back out of receivables), reopen a paid invoice,
    raise ``billing.anomaly`` (``payment_failed`` / ``payment_returned``). Never commits."""
    invoice = _lock(db, tenant_id, r.invoice_id)
    if invoice is None or invoice.kind != "invoice":
        return {"outcome": "ignored", "reason": f"no invoice '{r.invoice_id}'"}
    rule = "payment_returned" if r.kind == "returned" else "payment_failed"
    details = {"platform": r.platform, "vendor_ref": r.vendor_ref, "reason": r.reason, "kind": r.kind}
    message = f"{r.platform}: payment {r.kind} for invoice {invoice.number or invoice.invoice_id}: {r.reason}"
    if _existing(db, tenant_id, r.platform, "reversal", r.vendor_ref) is not None:
        return {"outcome": "already_recorded", "invoice_id": invoice.invoice_id}
    original = None if r.reverses is None else _existing(db, tenant_id, r.platform, "payment", r.reverses)
    if original is None or original.status != "applied":
        # nothing we booked: a failed attempt (the invoice stays open) or a payment we never applied
        _anomaly(db, tenant_id, rule, invoice, message, details, (r.platform, r.vendor_ref))
        return {"outcome": "failed_attempt", "invoice_id": invoice.invoice_id}
    amount = min(r.amount or original.amount, original.amount)
    before_paid = paid_of(db, tenant_id, invoice.invoice_id)
    before = _state(invoice, before_paid)
    entry_id = _post(db, tenant_id, invoice, -amount, f"invoice {invoice.number} payment {r.kind} ({r.platform})",
                     "payment.reversed", r.at)
    row = _row(tenant_id, invoice, platform=r.platform, kind="reversal", status="applied",
               vendor_ref=r.vendor_ref[:200], vendor_invoice=r.vendor_invoice or original.vendor_invoice,
               amount=amount, method=original.method, paid_at=r.at, reason=r.reason[:300], entry_id=entry_id)
    db.add(row)
    paid = before_paid - amount
    reopened = invoice.status == "paid" and paid < due_of(db, invoice)
    if reopened:
        invoice.status, invoice.paid_at, invoice.payment_reference = "finalized", None, None
    db.flush()
    audit.record(db, tenant_id, "invoice", invoice.invoice_id, "payment_reversed", before,
                 {**_state(invoice, paid), "payment_id": row.payment_id, "reverses": original.payment_id})
    _anomaly(db, tenant_id, rule, invoice, message, {**details, "amount": major_str(amount, invoice.currency),
                                                     "reopened": reopened}, (r.platform, r.vendor_ref))
    return {"outcome": "reversed", "invoice_id": invoice.invoice_id, "payment_id": row.payment_id,
            "reopened": reopened, "paid": major_str(paid, invoice.currency)}


def list_payments(db: DbSession, tenant_id: str, invoice_id: str | None = None,
                  limit: int = 100) -> dict[str, list[dict[str, Any]]]:
    """Payments and reversals, newest first (``invoice_id``: of one invoice)."""
    query = select(PaymentRow).where(PaymentRow.tenant_id == tenant_id)
    if invoice_id:
        query = query.where(PaymentRow.invoice_id == invoice_id)
    rows = db.scalars(query.order_by(PaymentRow.created_at.desc(), PaymentRow.payment_id).limit(limit))
    return {"items": [r.to_dict() for r in rows]}
