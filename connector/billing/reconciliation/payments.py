"""Reconciliation's payment check: invoices a payment platform says are paid, for another amount than we billed.

An invoice of the period (one of its sessions started in the period's UTC window) is an exception
``paid_mismatch`` (anomaly ``paid_amount_mismatch``) when a vendor reported it settled while the payments booked
for it differ from what is due (amount due minus credit notes), or when more was paid than is due. A partial
payment the vendor itself reports as partial is not an exception: it is ``unpaid`` in the report.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session as DbSession

from connector.billing.reconciliation.period import Period
from connector.money import major_str
from connector.storage.tables.billing import InvoiceRow, invoice_lines
from connector.storage.tables.core import SessionRow
from connector.storage.tables.payments import PaymentRow

KIND, RULE = "paid_mismatch", "paid_amount_mismatch"


def paid_mismatches(db: DbSession, tenant_id: str, period: Period, stations: list[str] | None) -> list[dict[str, Any]]:
    lo, hi = period.utc_bounds()
    of_period = (select(invoice_lines.c.invoice_id).join(SessionRow.__table__, and_(
        SessionRow.tenant_id == invoice_lines.c.tenant_id, SessionRow.session_id == invoice_lines.c.session_id))
        .where(invoice_lines.c.tenant_id == tenant_id, SessionRow.start_at >= lo, SessionRow.start_at < hi))
    if stations is not None:
        of_period = of_period.where(SessionRow.station_id.in_(stations))
    rows = db.execute(select(PaymentRow.invoice_id, PaymentRow.kind, PaymentRow.amount, PaymentRow.vendor_settled,
                             PaymentRow.platform).where(
        PaymentRow.tenant_id == tenant_id, PaymentRow.status == "applied",
        PaymentRow.invoice_id.in_(of_period.distinct()))).all()
    paid: dict[str, int] = {}
    per_platform: dict[tuple[str, str], int] = {}
    settled_by: dict[str, set[str]] = {}
    for invoice_id, kind, amount, settled, platform in rows:
        signed = amount if kind == "payment" else -amount
        paid[invoice_id] = paid.get(invoice_id, 0) + signed
        per_platform[(invoice_id, platform)] = per_platform.get((invoice_id, platform), 0) + signed
        if kind == "payment" and settled:
            settled_by.setdefault(invoice_id, set()).add(platform)
    for invoice_id, platforms in settled_by.items():  # a settlement its platform reversed since no longer counts
        platforms.difference_update({p for p in platforms if per_platform[(invoice_id, p)] <= 0})
    out = []
    for invoice_id in sorted(paid):
        invoice = db.get(InvoiceRow, (tenant_id, invoice_id))
        if invoice is None:
            continue
        credited = int(db.scalar(select(func.coalesce(func.sum(InvoiceRow.amount_due), 0)).where(
            InvoiceRow.tenant_id == tenant_id, InvoiceRow.credit_note_of == invoice_id,
            InvoiceRow.status != "void")) or 0)
        due, received = invoice.amount_due - credited, paid[invoice_id]
        if received == due or (received < due and not settled_by.get(invoice_id)):
            continue
        cur = invoice.currency
        names = sorted(settled_by.get(invoice_id, set()))
        out.append({"kind": KIND, "rule": RULE, "session_id": None, "station_id": None, "tariff_id": None,
                    "customer_class": None,
                    "message": f"Invoice {invoice.number or invoice_id}: paid {major_str(received, cur)} {cur} at "
                               f"{', '.join(names) or 'the payment platforms'}, billed {major_str(due, cur)} {cur}",
                    "details": {"invoice_id": invoice_id, "invoice_number": invoice.number, "currency": cur,
                                "billed": major_str(due, cur), "paid": major_str(received, cur),
                                "difference": major_str(received - due, cur), "settled_by": names}})
    return out
