"""Invoices and credit notes as PDF (reportlab): the document finance sends, from the Invoice JSON.

Why reportlab: pure-Python wheels with no system libraries (weasyprint needs Pango and cairo), tables
that break across pages with a repeated header, and deterministic output (``invariant``) so the same
invoice gives the same bytes. Every amount shown comes from the invoice (the rating core computed it);
this module only formats it in the customer's language and currency (Babel/CLDR, as the e-mail receipt).
The seller's legal details and payment terms are settings (``InvoiceDocumentSettings``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from connector.config import InvoiceDocumentSettings
from connector.models.documents import InvoiceJson
from connector.money import minor_units
from connector.receipts.formatting import ReceiptDataError, parse_locale, to_amount
from connector.receipts.pdf_labels import pdf_labels_for
from connector.receipts.render import Brand, receipt_context

_MARGIN = 14 * mm
_GREY = colors.HexColor("#555555")
_RULE = colors.HexColor("#BBBBBB")
_HEAD_BG = colors.HexColor("#E8EEF4")


@dataclass(frozen=True, slots=True)
class Operator:
    """The seller printed on the document: legal name, address, VAT id, register entry, bank, terms."""

    name: str = "EV Charge Billing"
    address: tuple[str, ...] = ()
    vat_id: str | None = None
    registration: str | None = None
    email: str | None = None
    iban: str | None = None
    bic: str | None = None
    payment_terms_days: int = 14

    @classmethod
    def from_settings(cls, settings: InvoiceDocumentSettings | None = None) -> Operator:
        """The operator the environment names (``EVBILL_OPERATOR_*``, read now)."""
        s = settings or InvoiceDocumentSettings.from_environ()
        return cls(name=s.operator_name, address=s.operator_address, vat_id=s.operator_vat_id,
                   registration=s.operator_registration, email=s.operator_email, iban=s.operator_iban,
                   bic=s.operator_bic, payment_terms_days=s.payment_terms_days)


@lru_cache(maxsize=1)
def _fonts() -> tuple[str, str]:
    """DejaVu Sans (wide Unicode coverage) when the system has it, else the built-in Helvetica (Latin-1
    and the euro sign)."""
    try:
        pdfmetrics.registerFont(TTFont("EvbillSans", "DejaVuSans.ttf"))
        pdfmetrics.registerFont(TTFont("EvbillSans-Bold", "DejaVuSans-Bold.ttf"))
    except TTFError:
        return "Helvetica", "Helvetica-Bold"
    return "EvbillSans", "EvbillSans-Bold"


def _text(value: str) -> str:
    """Paragraph markup of plain text; a narrow no-break space (French grouping) becomes a no-break space,
    which every font has."""
    return escape(value.replace("\u202f", "\u00a0"))


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReceiptDataError(f"'{value}' is not an ISO 8601 instant") from exc


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local(value: str | None, zone_name: str | None, locale: str) -> str:
    """A session time on the session's own wall clock (its zone; else the offset the line carries)."""
    instant = _instant(value)
    if instant is None:
        return ""
    zone = _zone(zone_name)
    shown = instant.astimezone(zone) if zone else instant
    return format_datetime(shown.replace(tzinfo=None), format="short", locale=parse_locale(locale))


def _unit_price(value: object, currency: str, locale: str) -> str:
    """A unit price with at least the currency's minor-unit digits and every further digit it has
    (``0.30`` -> ``0,30``; ``0.2975`` -> ``0,2975``)."""
    digits = minor_units(currency)
    pattern = "#,##0." + "0" * digits + "#" * 8
    return format_decimal(to_amount(value, "unit_price"), format=pattern, locale=parse_locale(locale),
                          decimal_quantization=False)


class _Styles:
    def __init__(self) -> None:
        regular, bold = _fonts()
        self.regular, self.bold = regular, bold
        self.body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=11.5)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7.5, leading=9.5)
        self.small_right = ParagraphStyle("small_right", parent=self.small, alignment=TA_RIGHT)
        self.head = ParagraphStyle("head", parent=self.small, fontName=bold)
        self.head_right = ParagraphStyle("head_right", parent=self.head, alignment=TA_RIGHT)
        self.title = ParagraphStyle("title", fontName=bold, fontSize=18, leading=22)
        self.seller = ParagraphStyle("seller", fontName=bold, fontSize=12, leading=15)
        self.note = ParagraphStyle("note", parent=self.body, textColor=_GREY)
        self.draft = ParagraphStyle("draft", parent=self.body, fontName=bold, textColor=colors.HexColor("#B00020"))


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(_text(text), style)


def _header(ctx: dict[str, Any], invoice: InvoiceJson, operator: Operator, t: dict[str, str], st: _Styles,
            due: str) -> list[Flowable]:
    seller = [_p(operator.name, st.seller), *(_p(line, st.body) for line in operator.address)]
    if operator.vat_id:
        seller.append(_p(f"{t['vat_id']}: {operator.vat_id}", st.body))
    number_style = st.small if len(ctx["number"]) > 20 else st.body  # a draft shows its long id
    meta = [[_p(t["number"], st.head), _p(ctx["number"], number_style)],
            [_p(t["issued"], st.head), _p(ctx["issued_day"], st.body)]]
    if due:
        meta.append([_p(t["due"], st.head), _p(due, st.body)])
    if ctx["period"][0]:
        meta.append([_p(t["period"], st.head), _p(" – ".join(p for p in ctx["period"] if p), st.body)])
    if invoice.get("credit_note_of"):
        meta.append([_p(t["credit_of"], st.head), _p(ctx["credited"], st.body)])
    meta_table = Table(meta, colWidths=[24 * mm, 64 * mm])
    meta_table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1), ("TOPPADDING", (0, 0), (-1, -1), 1)]))
    top = Table([[seller, [_p(ctx["title"], st.title), Spacer(1, 2 * mm), meta_table]]],
                colWidths=[A4[0] - 2 * _MARGIN - 88 * mm, 88 * mm])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                             ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    customer = ctx["customer"]
    bill_to = [_p(t["bill_to"], st.head)]
    bill_to += [_p(v, st.body) for v in (customer["name"], customer["email"]) if v]
    out: list[Flowable] = [top, Spacer(1, 6 * mm), *bill_to, Spacer(1, 5 * mm)]
    if invoice.get("status") == "draft":
        out += [_p(t["draft"], st.draft), Spacer(1, 3 * mm)]
    return out


_LINE_WIDTHS_MM = (37, 22, 20, 20, 17, 20, 15, 14, 17)


def _lines_table(ctx: dict[str, Any], invoice: InvoiceJson, t: dict[str, str], st: _Styles) -> Table:
    currency = ctx["currency"]
    header = [_p(t["description"], st.head), _p(t["station"], st.head), _p(t["start"], st.head),
              _p(t["end"], st.head), _p(t["quantity"], st.head_right),
              Paragraph(f"{_text(t['unit_price'])}<br/>{_text(currency)}", st.head_right), _p(t["net"], st.head_right),
              _p(t["tax"], st.head_right), _p(t["gross"], st.head_right)]
    rows: list[list[Any]] = [header]
    raw_lines = invoice.get("lines") or []
    for shown, raw in zip(ctx["lines"], raw_lines, strict=True):
        description = shown["description"]
        if shown["session_id"]:
            description = f"{description}\n{t['session']} {shown['session_id']}"
        zone = raw.get("time_zone")
        quantity = f"{shown['quantity']['text']} {shown['unit']}".strip()
        rows.append([
            Paragraph("<br/>".join(_text(part) for part in description.split("\n")), st.small),
            _p(shown["station_id"], st.small),
            _p(_local(raw.get("session_start"), zone, ctx["locale"]), st.small),
            _p(_local(raw.get("session_end"), zone, ctx["locale"]), st.small),
            _p(quantity, st.small_right), _p(_unit_price(raw.get("unit_price"), currency, ctx["locale"]), st.small_right),
            _p(shown["net"]["text"], st.small_right), _p(shown["tax"]["text"], st.small_right),
            _p(shown["gross"]["text"], st.small_right),
        ])
    table = Table(rows, colWidths=[w * mm for w in _LINE_WIDTHS_MM], repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), _HEAD_BG), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, _RULE), ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
    ]))
    return table


def _totals(ctx: dict[str, Any], t: dict[str, str], st: _Styles) -> list[Flowable]:
    taxes = [[_p(t["tax_breakdown"], st.head), _p(t["rate"], st.head_right), _p(t["taxable_base"], st.head_right),
              _p(t["amount"], st.head_right)]]
    for tax in ctx["taxes"]:
        taxes.append([_p(tax["name"], st.small), _p(tax["rate"]["text"], st.small_right),
                      _p(tax["base"]["text"], st.small_right), _p(tax["amount"]["text"], st.small_right)])
    tax_table = Table(taxes, colWidths=[24 * mm, 16 * mm, 38 * mm, 24 * mm])
    tax_table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), _HEAD_BG),
                                   ("LINEBELOW", (0, 0), (-1, -1), 0.25, _RULE)]))
    sums = [(t["net_total"], ctx["net_total"]), (t["tax_total"], ctx["tax_total"]),
            (t["gross_total"], ctx["gross_total"])]
    if ctx["incentive_total"] is not None:
        sums.append((t["incentive_total"], {"text": "−" + ctx["incentive_total"]["text"]}))
    sums.append((t["amount_due"], ctx["amount_due"]))
    right = ParagraphStyle("total", parent=st.body, alignment=TA_RIGHT)
    strong = ParagraphStyle("due", parent=st.body, fontName=st.bold)
    strong_right = ParagraphStyle("due_right", parent=strong, alignment=TA_RIGHT)
    total_rows = [[_p(label, strong if last else st.body), _p(value["text"], strong_right if last else right)]
                  for last, (label, value) in ((i == len(sums) - 1, item) for i, item in enumerate(sums))]
    total_table = Table(total_rows, colWidths=[40 * mm, 32 * mm])
    total_table.setStyle(TableStyle([("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black)]))
    row = Table([[tax_table if ctx["taxes"] else "", total_table]],
                colWidths=[A4[0] - 2 * _MARGIN - 76 * mm, 76 * mm])
    row.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                             ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return [Spacer(1, 5 * mm), row]


def _due_day(invoice: InvoiceJson, operator: Operator, locale: str) -> str:
    issued = _instant(invoice.get("issued_at"))
    if issued is None or invoice.get("kind") == "credit_note":
        return ""
    return format_date(issued + timedelta(days=operator.payment_terms_days), format="medium",
                       locale=parse_locale(locale))


def _terms(ctx: dict[str, Any], invoice: InvoiceJson, operator: Operator, t: dict[str, str], st: _Styles,
           due: str) -> list[Flowable]:
    lines: list[str] = []
    paid = _instant(invoice.get("paid_at"))
    if invoice.get("kind") == "credit_note":
        lines.append(t["terms_credit"].format(of=ctx["credited"]))
    elif paid is not None:
        lines.append(t["paid"].format(date=format_date(paid, format="medium", locale=parse_locale(ctx["locale"]))))
    elif due:
        lines.append(t["terms"].format(days=operator.payment_terms_days, due=due, number=ctx["number"]))
    else:
        lines.append(t["terms_draft"].format(days=operator.payment_terms_days))
    if operator.iban and invoice.get("kind") != "credit_note" and paid is None:
        bic = t["bic"].format(bic=operator.bic) if operator.bic else ""
        lines.append(t["terms_bank"].format(iban=operator.iban, bic=bic))
    return [Spacer(1, 8 * mm), *(_p(line, st.body) for line in lines)]


def _footer(operator: Operator, t: dict[str, str], font: str) -> Any:
    parts = [operator.name, *operator.address]
    legal = [p for p in (f"{t['vat_id']} {operator.vat_id}" if operator.vat_id else "", operator.registration or "",
                         operator.email or "",
                         f"IBAN {operator.iban}" + (f" · BIC {operator.bic}" if operator.bic else "")
                         if operator.iban else "") if p]

    def draw(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.setFillColor(_GREY)
        canvas.setStrokeColor(_RULE)
        canvas.line(_MARGIN, 16 * mm, A4[0] - _MARGIN, 16 * mm)
        canvas.drawString(_MARGIN, 12.5 * mm, " · ".join(parts))
        if legal:
            canvas.drawString(_MARGIN, 9 * mm, " · ".join(legal))
        canvas.drawRightString(A4[0] - _MARGIN, 12.5 * mm, t["page"].format(page=doc.page))
        canvas.restoreState()

    return draw


def render_invoice_pdf(invoice: InvoiceJson, operator: Operator | None = None, time_zone: str | None = None,
                       credited_number: str | None = None) -> bytes:
    """Invoice (or credit note) JSON -> PDF bytes (A4). ``credited_number``: the number of the invoice a
    credit note credits (the JSON holds its id). Raises ``ReceiptDataError`` naming a bad field."""
    operator = operator or Operator()
    ctx = receipt_context(invoice, Brand(name=operator.name, support_email=operator.email), time_zone)
    ctx["credited"] = credited_number or str(invoice.get("credit_note_of") or "")
    ctx["issued_day"] = _issued_day(invoice, ctx["locale"], time_zone)
    t = pdf_labels_for(ctx["locale"])
    ctx["title"] = t["credit_note"] if ctx["kind"] == "credit_note" else t["invoice"]
    st = _Styles()
    due = _due_day(invoice, operator, ctx["locale"])
    story: list[Flowable] = [*_header(ctx, invoice, operator, t, st, due), _lines_table(ctx, invoice, t, st),
                             *_totals(ctx, t, st), *_terms(ctx, invoice, operator, t, st, due)]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=_MARGIN, rightMargin=_MARGIN, topMargin=_MARGIN,
                            bottomMargin=22 * mm, title=f"{ctx['title']} {ctx['number']}", author=operator.name,
                            lang=ctx["lang"], invariant=True)
    footer = _footer(operator, t, st.regular)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _issued_day(invoice: InvoiceJson, locale: str, time_zone: str | None) -> str:
    issued = _instant(invoice.get("issued_at"))
    if issued is None:
        return "–"
    zone = _zone(time_zone)
    return format_date(issued.astimezone(zone) if zone else issued, format="medium", locale=parse_locale(locale))
