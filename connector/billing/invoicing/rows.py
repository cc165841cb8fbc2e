"""Invoice rows: gapless numbers, locking, totals from lines, the pinned Invoice JSON and CSV.

Totals are sums of stored lines (which carry the rating core's rounded amounts), never re-priced here.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import BigInteger, Table, bindparam, case, func, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm.attributes import set_committed_value

from connector.billing.ledger.accounts import Accounts
from connector.billing.ledger.journal import Posting
from connector.models.documents import (
    InvoiceCustomerJson,
    InvoiceJson,
    InvoiceLineJson,
    InvoiceSummaryJson,
    TaxTotalJson,
)
from connector.money import major_str
from connector.storage import inserts
from connector.storage.repo import aware
from connector.storage.tables.billing import (
    LINE_POSITION_BLOCK,
    LINE_POSITION_SEQUENCE,
    InvoiceCounterRow,
    InvoiceLineRow,
    InvoiceRow,
)
from connector.storage.tables.core import CustomerRow
from connector.validation import NotFound

SERIES = {"invoice": "INV", "credit_note": "CN"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def next_number(db: DbSession, tenant_id: str, kind: str) -> str:
    """The next number of the tenant's series (``INV-000001``; credit notes ``CN-000001``).

    ``UPDATE ... RETURNING`` locks the counter row until the caller commits; a rollback returns the
    number, so numbers have no gaps and no duplicates under concurrency (PostgreSQL and SQLite).
    """
    series = SERIES[kind]
    inserts.insert_new(db, InvoiceCounterRow, {"tenant_id": tenant_id, "series": series, "last_value": 0})
    value = db.execute(update(InvoiceCounterRow).where(
        InvoiceCounterRow.tenant_id == tenant_id, InvoiceCounterRow.series == series
    ).values(last_value=InvoiceCounterRow.last_value + 1).returning(InvoiceCounterRow.last_value)).scalar_one()
    return f"{series}-{value:06d}"


def lock_invoice(db: DbSession, tenant_id: str, invoice_id: str) -> InvoiceRow:
    """The invoice, write-locked for this transaction (a no-op ``UPDATE ... RETURNING``: a row lock on
    PostgreSQL, the database write lock on SQLite) and read fresh in the same statement. ``NotFound`` if the
    tenant has no such invoice."""
    row = db.scalars(update(InvoiceRow).where(InvoiceRow.tenant_id == tenant_id, InvoiceRow.invoice_id == invoice_id)
                     .values(status=InvoiceRow.status).returning(InvoiceRow),
                     execution_options={"populate_existing": True}).first()
    if row is None:
        raise NotFound(f"invoice '{invoice_id}' does not exist")
    return row


def get_row(db: DbSession, tenant_id: str, invoice_id: str) -> InvoiceRow:
    row = db.get(InvoiceRow, (tenant_id, invoice_id))
    if row is None:
        raise NotFound(f"invoice '{invoice_id}' does not exist")
    return row


def lines_of(db: DbSession, tenant_id: str, invoice_id: str) -> list[InvoiceLineRow]:
    return list(db.scalars(select(InvoiceLineRow).where(
        InvoiceLineRow.tenant_id == tenant_id, InvoiceLineRow.invoice_id == invoice_id
    ).order_by(InvoiceLineRow.position, InvoiceLineRow.line_id)))


_NEXT_BLOCK = select(LINE_POSITION_SEQUENCE.next_value())


def next_position(db: DbSession, tenant_id: str, invoice_id: str, count: int = 1) -> int:
    """The first of ``count`` positions for lines appended to the invoice, after every line it holds.

    PostgreSQL: a block from ``invoice_line_position_seq`` (no lock: concurrent appends to one draft each get
    their own block, in the order they asked). SQLite (one writer at a time): the highest position + 1."""
    if db.get_bind().dialect.name == "postgresql" and count <= LINE_POSITION_BLOCK:
        return int(db.execute(_NEXT_BLOCK).scalar_one()) * LINE_POSITION_BLOCK
    current = db.scalar(select(func.max(InvoiceLineRow.position)).where(
        InvoiceLineRow.tenant_id == tenant_id, InvoiceLineRow.invoice_id == invoice_id))
    return 0 if current is None else int(current) + 1


def refresh_totals(db: DbSession, invoice: InvoiceRow) -> None:
    """Totals = sums of the lines (incentives apart: they reduce the amount due, not the tax base), as one SQL
    aggregate: no line is loaded, whatever the size of the draft."""
    db.flush()
    incentive = InvoiceLineRow.category == "incentive"
    charge_net = func.coalesce(func.sum(case((incentive, 0), else_=InvoiceLineRow.net)), 0)
    charge_tax = func.coalesce(func.sum(case((incentive, 0), else_=InvoiceLineRow.tax)), 0)
    incentive_net = func.coalesce(func.sum(case((incentive, InvoiceLineRow.net), else_=0)), 0)
    net, tax, inc = db.execute(select(charge_net, charge_tax, incentive_net).where(
        InvoiceLineRow.tenant_id == invoice.tenant_id, InvoiceLineRow.invoice_id == invoice.invoice_id)).one()
    _set_totals(invoice, int(net), int(tax), -int(inc))
    db.flush()


def add_to_totals(invoice: InvoiceRow, lines: list[InvoiceLineRow]) -> None:
    """Totals after appending ``lines``: the stored totals plus theirs (the cost of a session stays flat as
    its draft grows; ``refresh_totals`` recomputes from all lines where lines were removed)."""
    charges = [ln for ln in lines if ln.category != "incentive"]
    _set_totals(invoice, (invoice.net_total or 0) + sum(ln.net for ln in charges),
                (invoice.tax_total or 0) + sum(ln.tax for ln in charges),
                (invoice.incentive_total or 0) - sum(ln.net for ln in lines if ln.category == "incentive"))


def _append_statement() -> Any:
    """``append_totals``'s UPDATE, built once with bound values: building it per call cost more than running it.
    A period bound given as NULL leaves the period as it is (``x > NULL`` is never true)."""
    table = cast(Table, InvoiceRow.__table__)
    t = table.c
    start, end = bindparam("start", type_=t.period_start.type), bindparam("end", type_=t.period_end.type)
    net, tax, incentive = bindparam("net", type_=BigInteger()), bindparam("tax", type_=BigInteger()), \
        bindparam("incentive", type_=BigInteger())
    return (update(table)
            .where(t.tenant_id == bindparam("tenant"), t.invoice_id == bindparam("invoice"), t.status == "draft")
            .values(net_total=t.net_total + net, tax_total=t.tax_total + tax, gross_total=t.gross_total + net + tax,
                    incentive_total=t.incentive_total + incentive, amount_due=t.amount_due + net + tax - incentive,
                    period_start=case((t.period_start.is_(None) | (t.period_start > start), start),
                                      else_=t.period_start),
                    period_end=case((t.period_end.is_(None) | (t.period_end < end), end), else_=t.period_end))
            .returning(*(t[name] for name in _APPENDED)))


_APPENDED = ("status", "net_total", "tax_total", "gross_total", "incentive_total", "amount_due", "period_start",
             "period_end", "updated_at")
_APPEND = _append_statement()


def append_totals(db: DbSession, invoice: InvoiceRow, lines: list[InvoiceLineRow], start: datetime | None,
                  end: datetime | None) -> bool:
    """Add appended ``lines`` to a draft's totals and period in one ``UPDATE ... RETURNING``, as the last write
    before commit: the draft's row lock is held from here to the commit only, not through the whole session end.

    False when the invoice stopped being a draft since it was chosen (finalized or voided by a transaction
    that committed first; on PostgreSQL this UPDATE waits for it and then finds the new status): the lines
    must not stay on it, and the caller rolls back and appends to the customer's next draft. A finalize that
    locks the draft first waits for this transaction's commit, then reads every line it added.

    A Core statement: the returned columns are set on ``invoice`` as loaded values (it is read fresh, as
    with ``populate_existing``, and has nothing left to flush)."""
    charges = [ln for ln in lines if ln.category != "incentive"]
    net, tax = sum(ln.net for ln in charges), sum(ln.tax for ln in charges)
    incentive = -sum(ln.net for ln in lines if ln.category == "incentive")
    row = db.execute(_APPEND, {"tenant": invoice.tenant_id, "invoice": invoice.invoice_id, "net": net, "tax": tax,
                               "incentive": incentive, "start": start, "end": end}).first()
    if row is None:
        return False
    for name, value in zip(_APPENDED, row, strict=True):
        set_committed_value(invoice, name, value)
    return True


def _set_totals(invoice: InvoiceRow, net: int, tax: int, incentive: int) -> None:
    invoice.net_total, invoice.tax_total = net, tax
    invoice.gross_total = net + tax
    invoice.incentive_total = incentive
    invoice.amount_due = invoice.gross_total - incentive


def extend_period(invoice: InvoiceRow, start: datetime | None, end: datetime | None) -> None:
    if start is not None and (invoice.period_start is None or start < aware(invoice.period_start)):
        invoice.period_start = start
    if end is not None and (invoice.period_end is None or end > aware(invoice.period_end)):
        invoice.period_end = end


def tax_totals_minor(lines: list[InvoiceLineRow]) -> list[dict[str, Any]]:
    """Per (name, rate, compound): the taxable base (the nets it applies to; compound: net + the other
    taxes of the line, as the rating core defines it) and the amount (sum of the line shares)."""
    out: dict[tuple[str, str, bool], list[int]] = {}
    for ln in lines:
        plain = sum(int(t["amount"]) for t in ln.taxes if not t.get("compound"))
        for t in ln.taxes:
            key = (t["name"], str(t["rate"]), bool(t.get("compound")))
            base = ln.net + plain if key[2] else ln.net
            if "base" in t:  # a credit by amount carries its proportional base
                base = int(t["base"])
            acc = out.setdefault(key, [0, 0])
            acc[0] += base
            acc[1] += int(t["amount"])
    return [{"name": n, "rate": r, "compound": c, "taxable_base": v[0], "amount": v[1]}
            for (n, r, c), v in out.items()]


def tax_totals(lines: list[InvoiceLineRow], currency: str) -> list[TaxTotalJson]:
    """``tax_totals_minor`` as JSON money."""
    return [{"name": t["name"], "rate": t["rate"], "compound": t["compound"],
             "taxable_base": major_str(t["taxable_base"], currency), "amount": major_str(t["amount"], currency)}
            for t in tax_totals_minor(lines)]


def customer_json(row: CustomerRow | None) -> InvoiceCustomerJson | None:
    if row is None:
        return None
    return {"id": row.customer_id, "name": row.name, "email": row.email, "customer_class": row.customer_class,
            "locale": row.locale, "tax_region": row.tax_region}


def _local_iso(value: datetime | None, tz_name: str | None) -> str | None:
    """An instant as ISO 8601 in the session's zone (its local wall clock with offset); UTC without one."""
    if value is None:
        return None
    moment = aware(value)
    try:
        return moment.astimezone(ZoneInfo(tz_name) if tz_name else UTC).isoformat()
    except (ZoneInfoNotFoundError, ValueError):
        return moment.astimezone(UTC).isoformat()


def line_json(ln: InvoiceLineRow, currency: str) -> InvoiceLineJson:
    return {
        "id": ln.line_id, "session_id": ln.session_id, "station_id": ln.station_id,
        "session_start": _local_iso(ln.session_start, ln.session_time_zone),
        "session_end": _local_iso(ln.session_end, ln.session_time_zone), "time_zone": ln.session_time_zone,
        "kind": ln.kind,
        "category": ln.category, "description": ln.description, "quantity": ln.quantity, "unit": ln.unit,
        "unit_price": ln.unit_price, "net": major_str(ln.net, currency),
        "taxes": [{"name": t["name"], "rate": str(t["rate"]), "amount": major_str(t["amount"], currency)}
                  for t in ln.taxes],
        "tax": major_str(ln.tax, currency), "gross": major_str(ln.gross, currency),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else aware(value).isoformat()


def invoice_json(db: DbSession, invoice: InvoiceRow, lines: list[InvoiceLineRow] | None = None) -> InvoiceJson:
    """The pinned ``Invoice`` JSON (docs/architecture.md); money as decimal strings with the currency's
    minor-unit digits ("37.94" EUR, "1234" JPY), like every other money field of the API."""
    if lines is None:
        lines = lines_of(db, invoice.tenant_id, invoice.invoice_id)
    # the summary's members (ids, status, customer, dates, totals) plus the lines and their tax totals
    return cast(InvoiceJson, {
        **invoice_summary(db, invoice),
        "lines": [line_json(ln, invoice.currency) for ln in lines],
        "taxes": tax_totals([ln for ln in lines if ln.category != "incentive"], invoice.currency),
    })


def invoice_summary(db: DbSession, invoice: InvoiceRow) -> InvoiceSummaryJson:
    """The ``Invoice`` without its lines and tax totals: what a session's bill and ``session.billed`` carry, so
    their size does not grow with the draft (the whole invoice is ``GET /v1/invoices/{id}``)."""
    customer = None if invoice.customer_id is None else db.get(CustomerRow, (invoice.tenant_id, invoice.customer_id))
    return summary_of(invoice, customer)


def summary_of(invoice: InvoiceRow, customer: CustomerRow | None) -> InvoiceSummaryJson:
    """``invoice_summary`` with the invoice's customer row (None: it has none) the caller has read already."""
    return {
        "id": invoice.invoice_id, "tenant_id": invoice.tenant_id, "number": invoice.number,
        "status": invoice.status, "kind": invoice.kind, "credit_note_of": invoice.credit_note_of,
        "customer": customer_json(customer) or (None if invoice.customer_id is None else {"id": invoice.customer_id}),
        "currency": invoice.currency, "issued_at": _iso(invoice.issued_at),
        "period_start": _iso(invoice.period_start), "period_end": _iso(invoice.period_end),
        "paid_at": _iso(invoice.paid_at), "reason": invoice.reason,
        "net_total": major_str(invoice.net_total, invoice.currency),
        "tax_total": major_str(invoice.tax_total, invoice.currency),
        "gross_total": major_str(invoice.gross_total, invoice.currency),
        "incentive_total": major_str(invoice.incentive_total, invoice.currency),
        "amount_due": major_str(invoice.amount_due, invoice.currency),
    }


def session_lines_json(db: DbSession, tenant_id: str, invoice: InvoiceRow, session_id: str) -> list[InvoiceLineJson]:
    """The invoice's lines of one session (indexed by tenant + session: flat in the size of the invoice)."""
    rows = db.scalars(select(InvoiceLineRow).where(
        InvoiceLineRow.tenant_id == tenant_id, InvoiceLineRow.session_id == session_id,
        InvoiceLineRow.invoice_id == invoice.invoice_id).order_by(InvoiceLineRow.position, InvoiceLineRow.line_id))
    return [line_json(ln, invoice.currency) for ln in rows]


CSV_FIELDS = ("invoice_id", "number", "status", "kind", "currency", "line_id", "session_id", "station_id", "kind_line",
              "category", "description", "quantity", "unit", "unit_price", "net", "tax", "gross", "taxes")


def invoice_csv(doc: InvoiceJson) -> str:
    """One row per line, then one per tax rate and the totals (decimal amounts, as in the JSON)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    head = [doc["id"], doc["number"] or "", doc["status"], doc["kind"], doc["currency"]]
    for ln in doc["lines"]:
        taxes = "; ".join(f"{t['name']} {t['rate']}%={t['amount']}" for t in ln["taxes"])
        writer.writerow([*head, ln["id"], ln["session_id"] or "", ln["station_id"] or "", ln["kind"], ln["category"],
                         ln["description"], ln["quantity"], ln["unit"], ln["unit_price"], ln["net"], ln["tax"],
                         ln["gross"], taxes])
    for t in doc["taxes"]:
        writer.writerow([*head, "", "", "", "tax", "", f"{t['name']} {t['rate']}%", "", "", "", t["taxable_base"],
                         t["amount"], "", ""])
    for key in ("net_total", "tax_total", "gross_total", "incentive_total", "amount_due"):
        writer.writerow([*head, "", "", "", "total", "", key, "", "", "", "", "", doc[key], ""])
    return buf.getvalue()


def postings(lines: list[InvoiceLineRow], accounts: Accounts, sign: int = 1) -> list[Posting]:
    """The journal postings of ``lines``: AR debit = amount due, incentive receivable debit = incentives,
    revenue credit per category = net, tax payable credit per tax name. ``sign=-1`` reverses them."""
    out: list[Posting] = []
    for ln in lines:
        if ln.category == "incentive":  # the authority pays this part instead of the customer
            out.append((accounts.incentive, sign * -ln.net, "incentive receivable"))
            out.append((accounts.receivable, sign * ln.net, "accounts receivable"))
            continue
        out.append((accounts.receivable, sign * ln.gross, "accounts receivable"))
        out.append((accounts.revenue(ln.category), sign * -ln.net, f"revenue {ln.category}"))
        for t in ln.taxes:
            out.append((accounts.tax(t["name"]), sign * -int(t["amount"]), f"tax payable {t['name']} {t['rate']}%"))
    return out
