"""A reconciliation report as CSV (its rows) or an ``.xlsx`` workbook (summary + chart, rows, exceptions).

Why openpyxl: it writes real workbooks with native charts and no office suite; money cells are written
from the report's Decimal strings (exact in the file) with a two-decimal number format.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

ROW_COLUMNS = ("station_id", "tariff_id", "customer_class", "currency", "sessions", "energy_kwh", "expected",
               "billed", "paid", "difference", "unpaid")
MONEY = ("expected", "billed", "paid", "difference", "unpaid")
EXCEPTION_COLUMNS = ("kind", "rule", "session_id", "station_id", "tariff_id", "customer_class", "message",
                     "anomaly_id", "details")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_csv(report: dict[str, Any]) -> str:
    """One line per (station, tariff, customer class, currency) row, money as in the JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ROW_COLUMNS)
    for row in report.get("rows") or []:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in ROW_COLUMNS])
    return out.getvalue()


def exceptions_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXCEPTION_COLUMNS)
    for exc in report.get("exceptions") or []:
        writer.writerow([_text(exc.get(c)) for c in EXCEPTION_COLUMNS])
    return out.getvalue()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{k}={'' if v is None else v}" for k, v in value.items())
    return str(value)


def _cell(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in MONEY or column == "energy_kwh":
        return Decimal(str(value))
    return value


def chart_currency(report: dict[str, Any]) -> str | None:
    """The report's currency; with several, the first (amounts of different currencies never add up)."""
    rows = report.get("rows") or []
    return (report.get("summary") or {}).get("currency") or (rows[0].get("currency") if rows else None)


def _per_station(report: dict[str, Any]) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """Expected/billed/paid per station (the chart's data), in one currency."""
    currency = chart_currency(report)
    totals: dict[str, list[Decimal]] = {}
    for row in report.get("rows") or []:
        if row.get("currency") != currency:
            continue
        sums = totals.setdefault(row.get("station_id") or "(none)", [Decimal(0)] * 3)
        for i, key in enumerate(("expected", "billed", "paid")):
            sums[i] += Decimal(row[key])
    return [(station, *sums) for station, sums in sorted(totals.items())]  # type: ignore[misc]


def to_xlsx(report: dict[str, Any]) -> bytes:
    """Sheets ``Summary`` (totals + per-station table + bar chart), ``Rows``, ``Exceptions``."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font

    book = Workbook()
    summary_sheet = cast("Worksheet", book.active)
    summary_sheet.title = "Summary"
    bold = Font(bold=True)
    summary = report.get("summary") or {}
    facts: list[tuple[str, Any]] = [
        ("Reconciliation", report.get("id")), ("Kind", report.get("kind")), ("Period", report.get("period")),
        ("Period start", report.get("period_start")), ("Period end", report.get("period_end")),
        ("Stations", ", ".join(report.get("stations") or []) or "all"), ("Currency", summary.get("currency")),
        ("Sessions", summary.get("sessions")), ("Open sessions", summary.get("open_sessions")),
    ]
    facts += [(label, _cell(key, summary.get(key))) for key, label in
              (("expected", "Expected"), ("billed", "Billed"), ("paid", "Paid"),
               ("difference", "Difference (expected - billed)"), ("unpaid", "Unpaid (billed - paid)"))]
    facts += [(f"Exceptions: {kind}", count) for kind, count in (summary.get("exceptions") or {}).items()]
    for label, value in facts:
        summary_sheet.append([label, value])
        summary_sheet.cell(summary_sheet.max_row, 1).font = bold
        if isinstance(value, Decimal):
            summary_sheet.cell(summary_sheet.max_row, 2).number_format = "#,##0.00"
    summary_sheet.append([])
    header_row = summary_sheet.max_row + 1
    summary_sheet.append(["Station", "Expected", "Billed", "Paid"])
    for cell in summary_sheet[header_row]:
        cell.font = bold
    stations = _per_station(report)
    for station in stations:
        summary_sheet.append(list(station))
        for col in (2, 3, 4):
            summary_sheet.cell(summary_sheet.max_row, col).number_format = "#,##0.00"
    if stations:
        chart = BarChart()
        chart.type = "col"
        chart.title = "Expected, billed and paid per station"
        chart.y_axis.title = chart_currency(report) or "amount"
        data = Reference(summary_sheet, min_col=2, max_col=4, min_row=header_row, max_row=header_row + len(stations))
        labels = Reference(summary_sheet, min_col=1, min_row=header_row + 1, max_row=header_row + len(stations))
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(labels)
        summary_sheet.add_chart(chart, "F2")
    summary_sheet.column_dimensions["A"].width = 32
    summary_sheet.column_dimensions["B"].width = 34

    rows_sheet = book.create_sheet("Rows")
    rows_sheet.append(list(ROW_COLUMNS))
    for row in report.get("rows") or []:
        rows_sheet.append([_cell(c, row.get(c)) for c in ROW_COLUMNS])
    exc_sheet = book.create_sheet("Exceptions")
    exc_sheet.append(list(EXCEPTION_COLUMNS))
    for exc in report.get("exceptions") or []:
        exc_sheet.append([_text(exc.get(c)) for c in EXCEPTION_COLUMNS])
    for sheet in (rows_sheet, exc_sheet):
        for cell in sheet[1]:
            cell.font = bold
    data_out = io.BytesIO()
    book.save(data_out)
    return data_out.getvalue()
