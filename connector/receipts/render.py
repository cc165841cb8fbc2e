"""Render an Invoice (the documented Invoice JSON) as a receipt email: subject, HTML and plain text.

Pure: no I/O, no clock. Every amount shown comes from the invoice (the rating core computed it); this
module only formats. The HTML carries ``data-*`` attributes with the raw invoice values so tests (and
mail QA tools) can check the rendered DOM against the invoice without screenshots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from connector.models.documents import InvoiceJson
from connector.receipts.formatting import (
    ReceiptDataError,
    format_day,
    format_instant,
    format_money,
    format_quantity,
    format_rate,
    parse_locale,
    to_amount,
)
from connector.receipts.labels import labels_for

_ENV = Environment(
    loader=PackageLoader("connector.receipts", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True)
class Receipt:
    invoice_id: str
    to_email: str | None
    to_name: str | None
    subject: str
    html: str
    text: str
    locale: str


@dataclass(frozen=True, slots=True)
class Brand:
    """Who the receipt is from (operator name shown in the header and footer)."""

    name: str = "EV Charge Billing"
    support_email: str | None = None


def _require(invoice: Mapping[str, Any], key: str) -> Any:
    if key not in invoice or invoice[key] in (None, ""):
        raise ReceiptDataError(f"invoice.{key}: required to render a receipt")
    return invoice[key]


def receipt_context(invoice: InvoiceJson, brand: Brand | None = None,
                    time_zone: str | None = None) -> dict[str, Any]:
    """The template context: raw values (for data-* attributes) next to their formatted text."""
    brand = brand or Brand()
    currency = str(_require(invoice, "currency"))
    customer = invoice.get("customer") or {}
    locale = str(parse_locale(customer.get("locale")))
    t = labels_for(locale)

    def money(value: object, field: str) -> dict[str, str]:
        amount = to_amount(value, field)
        return {"raw": format(amount, "f"), "text": format_money(amount, currency, locale)}

    lines = []
    for i, line in enumerate(_require(invoice, "lines")):
        where = f"invoice.lines[{i}]"
        quantity = to_amount(line.get("quantity", "1"), f"{where}.quantity")
        lines.append({
            "id": str(line.get("id") or i),
            "session_id": line.get("session_id") or "",
            "station_id": line.get("station_id") or "",
            "kind": line.get("kind") or "charge",
            "description": str(line.get("description") or ""),
            "quantity": {"raw": format(quantity, "f"), "text": format_quantity(quantity, locale)},
            "unit": line.get("unit") or "",
            "unit_price": {"raw": str(line.get("unit_price", "")),
                           "text": format_quantity(to_amount(line.get("unit_price", "0"), f"{where}.unit_price"),
                                                   locale)},
            "net": money(line.get("net"), f"{where}.net"),
            "tax": money(line.get("tax", "0"), f"{where}.tax"),
            "gross": money(line.get("gross"), f"{where}.gross"),
        })
    taxes = []
    for i, tax in enumerate(invoice.get("taxes") or []):
        where = f"invoice.taxes[{i}]"
        rate = to_amount(tax.get("rate"), f"{where}.rate")
        taxes.append({
            "name": str(tax.get("name") or "Tax"),
            "rate": {"raw": format(rate, "f"), "text": format_rate(rate, locale)},
            "base": money(tax.get("taxable_base", "0"), f"{where}.taxable_base"),
            "amount": money(tax.get("amount"), f"{where}.amount"),
        })
    incentive = to_amount(invoice.get("incentive_total", "0"), "invoice.incentive_total")
    kind = invoice.get("kind") or "invoice"
    number = str(invoice.get("number") or invoice.get("id") or "")
    amount_due = money(_require(invoice, "amount_due"), "invoice.amount_due")
    title = t["credit_note"] if kind == "credit_note" else t["receipt"]
    return {
        "t": t,
        "lang": locale.split("_")[0],
        "brand": brand,
        "title": title,
        "invoice_id": str(_require(invoice, "id")),
        "number": number,
        "kind": kind,
        "currency": currency,
        "customer": {"name": customer.get("name") or "", "email": customer.get("email") or ""},
        "issued_at": format_instant(invoice.get("issued_at"), locale, time_zone),
        "period": (format_day(invoice.get("period_start"), locale), format_day(invoice.get("period_end"), locale)),
        "lines": lines,
        "taxes": taxes,
        "net_total": money(_require(invoice, "net_total"), "invoice.net_total"),
        "tax_total": money(_require(invoice, "tax_total"), "invoice.tax_total"),
        "gross_total": money(_require(invoice, "gross_total"), "invoice.gross_total"),
        "incentive_total": money(incentive, "invoice.incentive_total") if incentive != Decimal(0) else None,
        "amount_due": amount_due,
        "subject": t["subject"].format(brand=brand.name, title=title, number=number, amount=amount_due["text"]),
        "locale": locale,
    }


def render_receipt(invoice: InvoiceJson, brand: Brand | None = None, time_zone: str | None = None) -> Receipt:
    """Invoice JSON -> :class:`Receipt` (HTML + plain text in the customer's locale and currency format)."""
    ctx = receipt_context(invoice, brand, time_zone)
    html = _ENV.get_template("receipt.html").render(**ctx)
    text = _ENV.get_template("receipt.txt").render(**ctx)
    customer = invoice.get("customer") or {}
    return Receipt(invoice_id=ctx["invoice_id"], to_email=customer.get("email") or None,
                   to_name=customer.get("name") or None, subject=ctx["subject"], html=html, text=text,
                   locale=ctx["locale"])
