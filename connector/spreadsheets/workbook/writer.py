"""``export_workbook``: tariff table, sessions with cost formulas, totals, summary and a chart.

Values are written as Decimals (openpyxl stores their text), never floats. openpyxl writes no cached
formula results: Excel and LibreOffice compute them on open (CI forces a full recalculation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import cast

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from connector.models.session import Session
from connector.models.tariff import Tariff
from connector.rating import RatedSession
from connector.spreadsheets.workbook import layout as L
from connector.spreadsheets.workbook.sessions import SessionRow, session_rows
from connector.spreadsheets.workbook.subset import WorkbookTariff, workbook_tariff

_BOLD = Font(bold=True)
_DATE = "yyyy-mm-dd hh:mm:ss"


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


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _money_format(decimals: int) -> str:
    return "#,##0" + ("." + "0" * decimals if decimals else "")


def _tariff_sheet(ws: Worksheet, wt: WorkbookTariff) -> None:
    ws.append(list(L.BAND_HEADERS))
    for band in wt.bands:
        element = "none" if band.element is None else band.element
        ws.append([band.from_minute, _hhmm(band.from_minute), _hhmm(band.to_minute % 1440), element,
                   band.price, band.step_wh])
    ref = f"A1:F{len(wt.bands) + 1}"
    table = Table(displayName="TariffBands", ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)
    values: dict[str, str | int | Decimal | None] = {
        "Tariff id": wt.tariff.id, "Currency": wt.tariff.currency, "Decimals": wt.decimals, "VAT %": wt.vat,
        "Flat fee": wt.flat or Decimal(0), "Time price per h": wt.time_price or Decimal(0),
        "Time step (s)": wt.time_step_s, "Rounding": "line_half_up", "Step size": "ocpi_2_3_0",
    }
    ws["H1"], ws["I1"] = "Parameter", "Value"
    ws["H1"].font = ws["I1"].font = _BOLD
    for row, label in enumerate(L.PARAM_ROWS, start=2):
        ws.cell(row=row, column=8, value=label)
        ws.cell(row=row, column=9, value=values[label])
    ws.column_dimensions["E"].width = ws.column_dimensions["H"].width = 20


def _sessions_sheet(ws: Worksheet, wt: WorkbookTariff, rows: list[SessionRow]) -> None:
    ws.append([header for _, header, _ in L.SESSION_COLUMNS])
    money = _money_format(wt.decimals)
    for r, row in enumerate(rows, start=2):
        inputs = [row.session_id, row.station_id, row.customer_class, row.start_local, row.start_utc,
                  row.end_utc, row.energy_kwh]
        for (letter, header, template), value in zip(L.SESSION_COLUMNS, [*inputs, *[None] * 12], strict=False):
            cell = ws[f"{letter}{r}"]
            cell.value = value if template is None else L.session_formula(template, r, len(wt.bands))
            if letter in "DEF":
                cell.number_format = _DATE
            elif header in L.MONEY_HEADERS:
                cell.number_format = money
    for index, (_, header, _) in enumerate(L.SESSION_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = max(12, len(header) + 2)
    if rows:
        table = Table(displayName="SessionsTable", ref=f"A1:S{len(rows) + 1}")
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        ws.add_table(table)
    ws.freeze_panes = "B2"


def _column_range(letter: str, count: int) -> str:
    return f"{L.SESSIONS_SHEET}!${letter}$2:${letter}${max(count, 1) + 1}"


def _summary_sheet(ws: Worksheet, wt: WorkbookTariff, count: int) -> None:
    money = _money_format(wt.decimals)
    ws["A1"] = f"Totals ({wt.tariff.currency})"
    ws["A1"].font = _BOLD
    for i, (label, letter) in enumerate(L.TOTALS, start=2):
        ws.cell(row=i, column=1, value=label)
        formula = (f"=COUNTA({_column_range('A', count)})" if letter == "count"
                   else f"=SUM({_column_range(letter, count)})")
        ws.cell(row=i, column=2, value=formula).number_format = money if letter in "QRS" else "0.000"
    top = len(L.TOTALS) + 3
    for title, key in L.GROUPINGS:
        keys = _distinct(cast(Workbook, ws.parent)[L.SESSIONS_SHEET], key, count)
        ws.cell(row=top, column=1, value=title).font = _BOLD
        for j, (label, _) in enumerate(L.GROUP_VALUES, start=2):
            ws.cell(row=top, column=j, value=label).font = _BOLD
        for i, value in enumerate(keys, start=top + 1):
            ws.cell(row=i, column=1, value=value)
            crit = f"{_column_range(key, count)},$A{i}"
            for j, (_, letter) in enumerate(L.GROUP_VALUES, start=2):
                formula = (f"=COUNTIFS({crit})" if letter == "count"
                           else f"=SUMIFS({_column_range(letter, count)},{crit})")
                ws.cell(row=i, column=j, value=formula).number_format = money if letter in "QRS" else "0.000"
        if title == "Station" and keys:
            _chart(ws, top, len(keys))
        top += len(keys) + 2
    ws.column_dimensions["A"].width = 22


def _distinct(sessions: Worksheet, letter: str, count: int) -> list[str]:
    seen: dict[str, None] = {}
    for r in range(2, count + 2):
        seen.setdefault(str(sessions[f"{letter}{r}"].value), None)
    return sorted(seen)


def _chart(ws: Worksheet, header_row: int, n: int) -> None:
    """Gross by station: the bar chart finance asked for, fed by the SUMIFS block."""
    chart = BarChart()
    chart.title = "Gross by station"
    chart.y_axis.title = "Gross"
    chart.x_axis.title = "Station"
    gross_col = 1 + len(L.GROUP_VALUES)
    data = Reference(ws, min_col=gross_col, min_row=header_row, max_row=header_row + n)
    cats = Reference(ws, min_col=1, min_row=header_row + 1, max_row=header_row + n)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(cats)
    ws.add_chart(chart, "H2")


def export_workbook(tariff: Tariff, sessions: Iterable[Session], out: Path | str) -> ExportResult:
    """Write the workbook; raises ``WorkbookError`` naming the field when the formulas cannot price it."""
    wt = workbook_tariff(tariff)
    rated = session_rows(wt, sessions)
    rows = [row for row, _ in rated]
    book = Workbook()
    tariff_ws = cast(Worksheet, book.active)
    tariff_ws.title = L.TARIFF_SHEET
    _tariff_sheet(tariff_ws, wt)
    _sessions_sheet(book.create_sheet(L.SESSIONS_SHEET), wt, rows)
    _summary_sheet(book.create_sheet(L.SUMMARY_SHEET), wt, len(rows))
    path = Path(out)
    book.save(path)
    return ExportResult(path=path, tariff=tariff, rows=rows, ratings=[r for _, r in rated])
