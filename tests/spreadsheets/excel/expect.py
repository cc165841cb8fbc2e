"""The core's value for every formula cell of an exported workbook, and the comparison.

Why a full map: the test must fail if any formula cell is left unchecked, so ``mismatches`` walks
every formula of the written file and demands an expected value from the rating core for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import openpyxl

from connector.rating import RatedSession
from connector.spreadsheets.workbook import ExportResult
from connector.spreadsheets.workbook import layout as L

TOLERANCE = Decimal("0.000001")  # far below a cent: money must match to the cent, quantities exactly


def _net(rs: RatedSession, category: str) -> Decimal:
    return sum((ln.net for ln in rs.invoice.lines if ln.kind == "charge" and ln.category == category), Decimal(0))


def _billed(rs: RatedSession, dimension: str) -> Decimal:
    return sum((ln.billed_volume for ln in rs.lines if ln.dimension == dimension), Decimal(0))


def _energy_line(rs: RatedSession) -> tuple[Decimal, int]:
    energy = [ln for ln in rs.lines if ln.dimension == "ENERGY"]
    assert energy, f"{rs.session_id}: test data must deliver energy"
    return energy[0].unit_price, energy[0].element_index


def row_values(result: ExportResult, rs: RatedSession, index: int) -> dict[str, Decimal]:
    """Header -> the core's value for one Sessions row's formula columns."""
    row = result.rows[index]
    price, element = _energy_line(rs)
    comp = next(c for c in result.tariff.elements[element].price_components if c.type == "ENERGY")
    inv = rs.invoice
    return {
        "Minute of day": Decimal(row.start_local.hour * 60 + row.start_local.minute),
        "Energy price": price,
        "Energy step (Wh)": Decimal(comp.step_size),
        "Billed energy (kWh)": _billed(rs, "ENERGY"),
        "Energy net": _net(rs, "energy"),
        "Duration (s)": Decimal(int((rs.end - rs.start).total_seconds())),
        "Billed time (s)": _billed(rs, "TIME") * 3600,
        "Time net": _net(rs, "time"),
        "Flat net": _net(rs, "fixed"),
        "Net": inv.net_total,
        "VAT": inv.tax_total,
        "Gross": inv.gross_total,
    }


def expected_cells(result: ExportResult) -> dict[tuple[str, str], Decimal]:
    """(sheet, cell) -> expected value for every formula the writer emits."""
    out: dict[tuple[str, str], Decimal] = {}
    per_row = [row_values(result, rs, i) for i, rs in enumerate(result.ratings)]
    for i, values in enumerate(per_row):
        for header, value in values.items():
            out[(L.SESSIONS_SHEET, f"{L.COLUMN[header]}{i + 2}")] = value
    column_total: Callable[[str], Decimal] = lambda h: sum((v[h] for v in per_row), Decimal(0))  # noqa: E731
    energy = [r.energy_kwh for r in result.rows]
    totals = {"Sessions": Decimal(len(per_row)), "Energy (kWh)": sum(energy, Decimal(0)),
              "Billed energy (kWh)": column_total("Billed energy (kWh)"), "Net": column_total("Net"),
              "VAT": column_total("VAT"), "Gross": column_total("Gross")}
    for r, (label, _) in enumerate(L.TOTALS, start=2):
        out[(L.SUMMARY_SHEET, f"B{r}")] = totals[label]
    top = len(L.TOTALS) + 3
    for _, letter in L.GROUPINGS:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, row in enumerate(result.rows):
            groups[row.station_id if letter == "B" else row.customer_class].append(i)
        for r, key in enumerate(sorted(groups), start=top + 1):
            members = groups[key]
            sums = {"Sessions": Decimal(len(members)),
                    "Energy (kWh)": sum((result.rows[i].energy_kwh for i in members), Decimal(0)),
                    **{h: sum((per_row[i][h] for i in members), Decimal(0)) for h in ("Net", "VAT", "Gross")}}
            for c, (label, _) in enumerate(L.GROUP_VALUES, start=2):
                out[(L.SUMMARY_SHEET, f"{openpyxl.utils.get_column_letter(c)}{r}")] = sums[label]
        top += len(groups) + 2
    return out


def mismatches(written: Path, recalculated: Path, expected: dict[tuple[str, str], Decimal]) -> list[str]:
    """Every formula cell of ``written`` compared with the recalculated value; unchecked cells count too."""
    formulas = openpyxl.load_workbook(written)
    values = openpyxl.load_workbook(recalculated, data_only=True)
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
