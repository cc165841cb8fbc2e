"""``export_workbook``: sessions, their priced periods with formulas, the tariff, and a summary.

Why XlsxWriter (not openpyxl): it stores each formula's result next to it, so viewers that do not
calculate (previews, mail clients, some web viewers) still show every amount and total; the cached values
are the rating core's, and Excel and LibreOffice recompute the same numbers from the formulas. Numbers
are written as numbers with currency, date and integer formats; header rows are frozen, columns sized to
their content, and every sheet prints one page wide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from connector.models.session import Session
from connector.models.tariff import Tariff
from connector.rating import RatedSession
from connector.spreadsheets.workbook import layout as L
from connector.spreadsheets.workbook.sessions import SessionRow, session_rows
from connector.spreadsheets.workbook.subset import WorkbookTariff, workbook_tariff

_DATE = "yyyy-mm-dd hh:mm"
_DATE_WIDTH = 17


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What was written, with the core's rating per session (callers report totals from these)."""

    path: Path
    tariff: Tariff
    rows: list[SessionRow]
    ratings: list[RatedSession]

    @property
    def gross_total(self) -> Decimal:
        return sum((r.invoice.gross_total for r in self.ratings), Decimal(0))

    @property
    def line_count(self) -> int:
        return sum(len(row.lines) for row in self.rows)


class _Formats:
    """The number formats finance reads: currency amounts, dates, integers, quantities."""

    def __init__(self, book: xlsxwriter.Workbook, wt: WorkbookTariff) -> None:
        decimals = "." + "0" * wt.decimals if wt.decimals else ""
        currency = wt.tariff.currency
        self.header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                       "valign": "top"})
        self.bold = book.add_format({"bold": True})
        self.kinds: dict[str, Format] = {
            "text": book.add_format({}),
            "date": book.add_format({"num_format": _DATE}),
            "quantity": book.add_format({"num_format": "#,##0.000#"}),
            "price": book.add_format({"num_format": "#,##0.00##"}),
            "percent": book.add_format({"num_format": "0.0#"}),
            "exact": book.add_format({"num_format": "#,##0.0000"}),
            "count": book.add_format({"num_format": "0"}),
            "money": book.add_format({"num_format": f'#,##0{decimals} "{currency}"'}),
        }
        self.bold_money = book.add_format({"bold": True, "num_format": f'#,##0{decimals} "{currency}"'})
        self.bold_count = book.add_format({"bold": True, "num_format": "0"})
        self.bold_quantity = book.add_format({"bold": True, "num_format": "#,##0.000#"})


def _width(value: Any, kind: str, currency: str) -> int:
    """Characters a value needs in its format (a little more than its text): no ``###`` anywhere."""
    if kind == "date":
        return _DATE_WIDTH
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        digits = len(f"{abs(value):,.4f}") + 1
        return digits + (len(currency) + 1 if kind == "money" else 0)
    return len(str(value))


class _Sheet:
    """A sheet written row by row that remembers how wide each column must be."""

    def __init__(self, ws: Worksheet, fmt: _Formats, currency: str, columns: tuple[L.Column, ...]) -> None:
        self.ws, self.fmt, self.currency, self.columns = ws, fmt, currency, columns
        self.widths = [len(header) + 2 for header, _, _ in columns]
        ws.set_row(0, 30)
        for c, (header, _, _) in enumerate(columns):
            ws.write_string(0, c, header, fmt.header)

    def value(self, row: int, col: int, value: Any) -> None:
        kind = self.columns[col][2]
        fmt = self.fmt.kinds[kind]
        if isinstance(value, datetime):
            self.ws.write_datetime(row, col, value, fmt)
        elif isinstance(value, Decimal):
            self.ws.write_number(row, col, float(value), fmt)
        elif isinstance(value, int):
            self.ws.write_number(row, col, value, fmt)
        else:
            self.ws.write_string(row, col, str(value), fmt)
        self.widths[col] = max(self.widths[col], _width(value, kind, self.currency) + 2)

    def formula(self, row: int, col: int, formula: str, cached: Decimal) -> None:
        kind = self.columns[col][2]
        self.ws.write_formula(row, col, formula, self.fmt.kinds[kind], float(cached))
        self.widths[col] = max(self.widths[col], _width(cached, kind, self.currency) + 2)

    def finish(self, rows: int, landscape: bool = True) -> None:
        for c, width in enumerate(self.widths):
            self.ws.set_column(c, c, min(width, 40))
        self.ws.freeze_panes(1, 1)
        self.ws.autofilter(0, 0, max(rows, 1), len(self.columns) - 1)
        _print_setup(self.ws, landscape)


def _print_setup(ws: Worksheet, landscape: bool = True) -> None:
    """A4, one page wide (as many pages tall as needed), the header row on every page."""
    ws.set_paper(9)
    if landscape:
        ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.set_footer("&L&A&RPage &P of &N")


def _tariff_sheet(ws: Worksheet, fmt: _Formats, wt: WorkbookTariff) -> None:
    """The parameters the formulas read, then the tariff's elements as a reader sees them."""
    values: dict[str, str | int] = {"Tariff id": wt.tariff.id, "Currency": wt.tariff.currency,
                                    "Decimals": wt.decimals, "Rounding": "half up: periods, 4 decimals, minor unit",
                                    "Step size": "OCPI 2.3.0 (on session totals)"}
    ws.write_string(0, 0, "Parameter", fmt.header)
    ws.write_string(0, 1, "Value", fmt.header)
    for row, label in enumerate(L.PARAM_ROWS, start=1):
        ws.write_string(row, 0, label)
        value = values[label]
        if isinstance(value, int):
            ws.write_number(row, 1, value, fmt.kinds["count"])
        else:
            ws.write_string(row, 1, value)
    top = len(L.PARAM_ROWS) + 2
    headers = ("Element", "Applies", "Component", "Price", "Step", "VAT %")
    for c, header in enumerate(headers):
        ws.write_string(top, c, header, fmt.header)
    row = top
    for i, element in enumerate(wt.tariff.elements, start=1):
        restrictions = element.restrictions.model_dump(exclude_none=True) if element.restrictions else {}
        applies = ", ".join(f"{k} {v}" for k, v in restrictions.items() if v not in ([], None)) or "always"
        for component in element.price_components:
            row += 1
            ws.write_number(row, 0, i, fmt.kinds["count"])
            ws.write_string(row, 1, applies)
            ws.write_string(row, 2, component.type.value)
            ws.write_number(row, 3, float(component.price), fmt.kinds["price"])
            ws.write_number(row, 4, component.step_size, fmt.kinds["count"])
            ws.write_number(row, 5, float(component.vat or 0), fmt.kinds["percent"])
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 44)
    ws.set_column(2, 5, 14)
    ws.freeze_panes(1, 0)
    _print_setup(ws, landscape=False)


def _lines_sheet(sheet: _Sheet, rows: list[SessionRow]) -> list[tuple[int, int]]:
    """Every priced period; returns each session's first and last row on this sheet (1-based; last < first
    for a session without priced periods)."""
    spans: list[tuple[int, int]] = []
    r = 1
    for row in rows:
        first = r + 1
        for line in row.lines:
            inputs = [row.session_id, line.item, line.start_local, line.end_local, line.measured, line.billed,
                      line.unit, line.unit_price, line.vat]
            for c, value in enumerate(inputs):
                sheet.value(r, c, value)
            cached = (line.amount_excl, line.amount_incl)
            for c, (_, template, _) in enumerate(L.LINE_COLUMNS[len(inputs):], start=len(inputs)):
                assert template is not None
                sheet.formula(r, c, L.line_formula(template, r + 1), cached[c - len(inputs)])
            r += 1
        spans.append((first, r))
    sheet.finish(r - 1)
    return spans


def _sessions_sheet(sheet: _Sheet, rows: list[SessionRow], ratings: list[RatedSession],
                    spans: list[tuple[int, int]]) -> None:
    for r, (row, rated, (first, last)) in enumerate(zip(rows, ratings, spans, strict=True), start=1):
        inputs = [row.session_id, row.station_id, row.customer_class, row.start_local, row.end_local,
                  row.energy_kwh, len(row.lines)]
        for c, value in enumerate(inputs):
            sheet.value(r, c, value)
        inv = rated.invoice
        cached = {"Net": inv.net_total, "VAT": inv.tax_total, "Gross": inv.gross_total}
        for c, (header, template, _) in enumerate(L.SESSION_COLUMNS[len(inputs):], start=len(inputs)):
            assert template is not None
            formula = L.session_formula(template, r + 1, first, last) if last >= first else "=0"
            sheet.formula(r, c, formula, cached[header])
    sheet.finish(len(rows))


def _column_range(header: str, count: int) -> str:
    letter = L.COLUMN[header]
    return f"{L.SESSIONS_SHEET}!${letter}$2:${letter}${max(count, 1) + 1}"


def _summary_sheet(book: xlsxwriter.Workbook, ws: Worksheet, fmt: _Formats, wt: WorkbookTariff,
                   rows: list[SessionRow], ratings: list[RatedSession]) -> None:
    """Totals, then per station and per customer class (SUMIFS over the Sessions sheet), and a chart."""
    count = len(rows)

    def core(header: str, members: list[int]) -> Decimal:
        if header == "count":
            return Decimal(len(members))
        if header == "Energy (kWh)":
            return sum((rows[i].energy_kwh for i in members), Decimal(0))
        attr = {"Net": "net_total", "VAT": "tax_total", "Gross": "gross_total"}[header]
        return sum((getattr(ratings[i].invoice, attr) for i in members), Decimal(0))

    def cell_format(header: str, bold: bool) -> Format:
        if header == "count":
            return fmt.bold_count if bold else fmt.kinds["count"]
        if header == "Energy (kWh)":
            return fmt.bold_quantity if bold else fmt.kinds["quantity"]
        return fmt.bold_money if bold else fmt.kinds["money"]

    ws.write_string(0, 0, f"Totals ({wt.tariff.currency})", fmt.header)
    ws.write_string(0, 1, "", fmt.header)
    everyone = list(range(count))
    for r, (label, header) in enumerate(L.TOTALS, start=1):
        ws.write_string(r, 0, label, fmt.bold)
        formula = (f"=COUNTA({_column_range('Session id', count)})" if header == "count"
                   else f"=SUM({_column_range(header, count)})")
        ws.write_formula(r, 1, formula, cell_format(header, True), float(core(header, everyone)))
    top = len(L.TOTALS) + 2
    widest = 14
    for title, key in L.GROUPINGS:
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            groups.setdefault(row.station_id if key == "Station" else row.customer_class, []).append(i)
        ws.write_string(top, 0, title, fmt.header)
        for j, (label, _) in enumerate(L.GROUP_VALUES, start=1):
            ws.write_string(top, j, label, fmt.header)
        for i, name in enumerate(sorted(groups), start=top + 1):
            ws.write_string(i, 0, name)
            widest = max(widest, len(name) + 2)
            crit = f"{_column_range(key, count)},$A{i + 1}"
            for j, (_, header) in enumerate(L.GROUP_VALUES, start=1):
                formula = (f"=COUNTIFS({crit})" if header == "count"
                           else f"=SUMIFS({_column_range(header, count)},{crit})")
                ws.write_formula(i, j, formula, cell_format(header, False), float(core(header, groups[name])))
        if key == "Station" and groups:
            _chart(book, ws, top, len(groups))
        top += len(groups) + 2
    money_width = max(14, len(f"{core('Gross', everyone):,.2f}") + len(wt.tariff.currency) + 4)
    ws.set_column(0, 0, max(widest, 22))
    ws.set_column(1, len(L.GROUP_VALUES), money_width)
    _print_setup(ws)


def _chart(book: xlsxwriter.Workbook, ws: Worksheet, header_row: int, n: int) -> None:
    """Gross by station: the bar chart finance asked for, fed by the SUMIFS block."""
    chart = book.add_chart({"type": "bar"})
    assert chart is not None
    gross_col = len(L.GROUP_VALUES)
    chart.add_series({"name": "Gross", "categories": [ws.name, header_row + 1, 0, header_row + n, 0],
                      "values": [ws.name, header_row + 1, gross_col, header_row + n, gross_col]})
    chart.set_title({"name": "Gross by station"})
    chart.set_legend({"none": True})
    ws.insert_chart(1, len(L.GROUP_VALUES) + 2, chart)


def export_workbook(tariff: Tariff, sessions: Iterable[Session], out: Path | str,
                    progress: Callable[[int], None] | None = None) -> ExportResult:
    """Write the workbook; raises ``WorkbookError`` naming the field when the formulas cannot price it.
    ``progress(n)`` is called every 500 rated sessions (the CLI prints it)."""
    wt = workbook_tariff(tariff)
    rated = session_rows(wt, sessions, progress)
    rows = [row for row, _ in rated]
    ratings = [r for _, r in rated]
    path = Path(out)
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                           "default_date_format": _DATE})
    fmt = _Formats(book, wt)
    summary_ws = book.add_worksheet(L.SUMMARY_SHEET)
    sessions_ws = book.add_worksheet(L.SESSIONS_SHEET)
    lines_ws = book.add_worksheet(L.LINES_SHEET)
    tariff_ws = book.add_worksheet(L.TARIFF_SHEET)
    spans = _lines_sheet(_Sheet(lines_ws, fmt, tariff.currency, L.LINE_COLUMNS), rows)
    _sessions_sheet(_Sheet(sessions_ws, fmt, tariff.currency, L.SESSION_COLUMNS), rows, ratings, spans)
    _summary_sheet(book, summary_ws, fmt, wt, rows, ratings)
    _tariff_sheet(tariff_ws, fmt, wt)
    book.close()
    return ExportResult(path=path, tariff=tariff, rows=rows, ratings=ratings)
