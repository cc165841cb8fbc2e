"""The invoice's VAT policy, applied when an invoice is finalized (``EVBILL_INVOICE_VAT``, docs/rating.md).

Each session is rated with its VAT = round(OCPI gross) - round(OCPI net), so a draft's tax is the sum of its
sessions' rated VAT (``from_totals``). That is a cent away from ``round(net x rate)`` on about a third of
invoices, which is what an EU invoice must state and what Square, PayPal, Zoho Books and FreshBooks
recompute. ``per_rate`` levies each rate once on the invoice's net at that rate (compound rates on net plus
the plain taxes), spreads it over the lines by largest remainder of their exact tax, and posts the change
as one journal entry, so the ledger, credit notes, PDFs and vendors all see the invoiced amounts. Each line
keeps what moved in ``vat_rounding``: reconciliation compares sessions as rated.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from connector.billing.invoicing import rows as invoices
from connector.billing.invoicing.posting import emit
from connector.billing.ledger import accounts as accounts_mod
from connector.billing.ledger.journal import Posting, post_entry
from connector.models.documents import VatRestatementJson
from connector.money import major_str, quantum, round_money, to_major, to_minor
from connector.rating.invoice import allocate
from connector.storage.tables.billing import InvoiceLineRow, InvoiceRow
from connector.storage.tables.platforms import PlatformConfigRow

HUNDRED = Decimal(100)


class InvoiceVat(StrEnum):
    """``EVBILL_INVOICE_VAT``: ``per_rate`` (the default) or ``from_totals``."""

    PER_RATE = "per_rate"
    FROM_TOTALS = "from_totals"


DEFAULT = InvoiceVat.PER_RATE
# platforms that compute the tax of what they receive themselves and refuse (or flag) other amounts
RECOMPUTING_PLATFORMS = ("square", "paypal", "zoho_books", "freshbooks")


def per_rate_shares(lines: Sequence[InvoiceLineRow], currency: str) -> dict[tuple[str, int], int]:
    """(line id, tax index) -> amount: each (name, rate, compound) levied once on the lines' base and split
    over them by largest remainder of their exact shares; plain rates first, compound on the new amounts."""
    step = quantum(currency)
    out: dict[tuple[str, int], int] = {}
    for compound_pass in (False, True):
        groups: dict[tuple[str, str], list[tuple[str, int, Decimal]]] = {}
        for ln in lines:
            plain = sum(out.get((ln.line_id, j), int(t["amount"])) for j, t in enumerate(ln.taxes)
                        if not t.get("compound"))
            for j, t in enumerate(ln.taxes):
                if bool(t.get("compound")) is not compound_pass:
                    continue
                base = ln.net + plain if compound_pass else ln.net
                exact = to_major(base, currency) * Decimal(str(t["rate"])) / HUNDRED
                groups.setdefault((str(t["name"]), str(t["rate"])), []).append((ln.line_id, j, exact))
        for (_name, rate), members in groups.items():
            if Decimal(rate) == 0:  # a cap's explicit incl_vat with no rate to levy: kept as rated
                continue
            exacts = [m[2] for m in members]
            total = round_money(sum(exacts, Decimal(0)), currency)
            for (line_id, j, _exact), share in zip(members, allocate(total, exacts, step), strict=True):
                out[(line_id, j)] = to_minor(share, currency)
    return out


def apply_on_finalize(db: DbSession, invoice: InvoiceRow, policy: InvoiceVat) -> dict[tuple[str, str], int]:
    """Restate the invoice's VAT by ``policy`` as it is finalized; returns the change of each tax
    ((name, rate) -> minor units, only non-zero ones). ``from_totals`` and invoices whose rated VAT is already
    per rate change nothing."""
    if policy is not InvoiceVat.PER_RATE:
        return {}
    lines = [ln for ln in invoices.lines_of(db, invoice.tenant_id, invoice.invoice_id) if ln.category != "incentive"]
    shares = per_rate_shares(lines, invoice.currency)
    accounts = accounts_mod.load(db, invoice.tenant_id)
    postings: list[Posting] = []
    moved: dict[tuple[str, str], int] = {}
    for ln in lines:
        taxes, changed = [], False
        for j, t in enumerate(ln.taxes):
            new = shares.get((ln.line_id, j), int(t["amount"]))
            delta = new - int(t["amount"])
            if delta:
                changed = True
                key = (str(t["name"]), str(t["rate"]))
                moved[key] = moved.get(key, 0) + delta
                postings.append((accounts.receivable, delta, "accounts receivable"))
                postings.append((accounts.tax(t["name"]), -delta, f"tax payable {t['name']} {t['rate']}% per rate"))
            taxes.append({**t, "amount": new})
        if not changed:
            continue
        delta = sum(int(t["amount"]) for t in taxes) - ln.tax
        ln.taxes = taxes
        if delta:
            ln.tax += delta
            ln.gross += delta
            ln.vat_rounding = (ln.vat_rounding or 0) + delta
    if postings:
        entry = post_entry(db, invoice.tenant_id, currency=invoice.currency,
                           memo=f"invoice {invoice.number or invoice.invoice_id}: VAT per rate on its net",
                           reference=invoice.invoice_id, source="invoice.finalized", postings=postings)
        if entry is not None:
            emit(db, invoice.tenant_id, "journal.posted", {"entry": entry})
        invoices.refresh_totals(db, invoice)
    return {k: v for k, v in moved.items() if v}


def restatement_json(moved: dict[tuple[str, str], int], currency: str) -> VatRestatementJson:
    """``data.restatement`` of ``invoice.vat_restated``: what platforms that booked the sessions as rated
    (``session.billed``) post to reach the invoice, receivable against tax payable per rate."""
    return {"receivable": major_str(sum(moved.values()), currency),
            "taxes": [{"name": name, "rate": rate, "amount": major_str(amount, currency)}
                      for (name, rate), amount in sorted(moved.items())]}


def recomputing_platforms_warning(db: DbSession, policy: InvoiceVat) -> str | None:
    """The one start-up warning of ``evbill worker`` and ``evbill serve``: with ``from_totals``, invoices whose
    rated VAT is not the rate on their net are refused by these vendors, delivery after delivery."""
    if policy is not InvoiceVat.FROM_TOTALS:
        return None
    found = sorted(set(db.scalars(select(PlatformConfigRow.platform).where(
        PlatformConfigRow.enabled.is_(True), PlatformConfigRow.platform.in_(RECOMPUTING_PLATFORMS)))))
    if not found:
        return None
    return (f"EVBILL_INVOICE_VAT=from_totals while {', '.join(found)} recompute tax as rate x net: invoices whose "
            "rated VAT differs by a cent will fail to deliver there; set EVBILL_INVOICE_VAT=per_rate")
