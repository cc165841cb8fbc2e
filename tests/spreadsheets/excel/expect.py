"""The core's value for every formula cell of an exported workbook, and the comparison.

Why a full map: the test must fail if any formula cell is left unchecked, so ``mismatches`` walks
every formula of the written file and demands an expected value from the rating core for it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter

from connector.spreadsheets.workbook import ExportResult
from connector.spreadsheets.workbook import layout as L

TOLERANCE = Decimal("0.000001")  # far below a cent: money must match to the cent, quantities exactly


def expected_cells(result: ExportResult) -> dict[tuple[str, str], Decimal]:
    """(sheet, cell) -> the rating core's value for every formula the writer emits."""
    out: dict[tuple[str, str], Decimal] = {}
    r = 2
    for rated in result.ratings:
        for line in rated.lines:
            out[(L.LINES_SHEET, f"{L.LINE['Amount excl. VAT']}{r}")] = line.cost_excl_vat
            out[(L.LINES_SHEET, f"{L.LINE['Amount incl. VAT']}{r}")] = line.cost_incl_vat
            r += 1
    for i, rated in enumerate(result.ratings, start=2):
        inv = rated.invoice
        for header, value in (("Net", inv.net_total), ("VAT", inv.tax_total), ("Gross", inv.gross_total)):
            out[(L.SESSIONS_SHEET, f"{L.COLUMN[header]}{i}")] = value

    def core(header: str, members: list[int]) -> Decimal:
        if header == "count":
            return Decimal(len(members))
        if header == "Energy (kWh)":
            return sum((result.rows[i].energy_kwh for i in members), Decimal(0))
        attr = {"Net": "net_total", "VAT": "tax_total", "Gross": "gross_total"}[header]
        return sum((getattr(result.ratings[i].invoice, attr) for i in members), Decimal(0))

    everyone = list(range(len(result.rows)))
    for r, (_, header) in enumerate(L.TOTALS, start=2):
        out[(L.SUMMARY_SHEET, f"B{r}")] = core(header, everyone)
    top = len(L.TOTALS) + 3
    for _, key in L.GROUPINGS:
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(result.rows):
            groups.setdefault(row.station_id if key == "Station" else row.customer_class, []).append(i)
        for r, name in enumerate(sorted(groups), start=top + 1):
            for c, (_, header) in enumerate(L.GROUP_VALUES, start=2):
                out[(L.SUMMARY_SHEET, f"{get_column_letter(c)}{r}")] = core(header, groups[name])
        top += len(groups) + 2
    return out


def mismatches(written: Path, values_from: Path, expected: dict[tuple[str, str], Decimal]) -> list[str]:
    """Every formula cell of ``written`` compared with its value in ``values_from`` (a recalculated copy,
    or the written file itself for its cached values); unchecked cells count too."""
    formulas = openpyxl.load_workbook(written)
    values = openpyxl.load_workbook(values_from, data_only=True)
    problems: list[str] = []
    seen = 0
    for ws in formulas.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if not (isinstance(cell.value, str) and cell.value.startswith("=")):
                    continue
                seen += 1
                key = (ws.title, cell.coordinate)
                if key not in expected:
                    problems.append(f"{key}: formula {cell.value} has no expected value")
                    continue
                got = values[ws.title][cell.coordinate].value
                if not isinstance(got, int | float) or isinstance(got, bool):
                    problems.append(f"{key}: {cell.value} gave {got!r}")
                elif abs(Decimal(repr(got)) - expected[key]) > TOLERANCE:
                    problems.append(f"{key}: {cell.value} = {got!r}, core says {expected[key]}")
    if seen != len(expected):
        problems.append(f"{seen} formula cells, {len(expected)} expected values")
    return problems
