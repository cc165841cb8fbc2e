"""Workbook export: every random session exports, LibreOffice recalculates every formula to the core's
value, the cached values equal them too, and the rendered pages are legible."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import openpyxl
import pytest
from PIL import Image
from pypdf import PdfReader

from connector.models import Session, Tariff
from connector.spreadsheets.workbook import WorkbookError, export_workbook
from connector.spreadsheets.workbook import layout as L
from tests.spreadsheets.excel.data import TOU_TARIFF, random_sessions, tou_tariff
from tests.spreadsheets.excel.expect import expected_cells, mismatches
from tests.spreadsheets.excel.lo_recalc import recalc, soffice


def _crosses(rated) -> bool:
    """Priced by more than one energy element, or charging time cut into more than one period."""
    elements = {ln.element_index for ln in rated.lines if ln.dimension == "ENERGY"}
    return len(elements) > 1 or sum(1 for ln in rated.lines if ln.dimension == "TIME") > 1


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory):
    """2,000 random sessions written once, plus a tampered copy (one unit price) to prove the check bites."""
    workdir = tmp_path_factory.mktemp("lo")
    tariff = tou_tariff()
    result = export_workbook(tariff, random_sessions(2000), workdir / "book.xlsx")
    book = openpyxl.load_workbook(result.path)
    book[L.LINES_SHEET][f"{L.LINE['Unit price']}2"] = 0.99
    tampered = workdir / "tampered.xlsx"
    book.save(tampered)
    good, bad = recalc([result.path, tampered], workdir)
    return result, good, bad, tampered


def test_every_random_session_exports_including_those_that_cross_bands(recalculated):
    result, _, _, _ = recalculated
    assert [row.session_id for row in result.rows] == [f"S-{i:04d}" for i in range(1, 2001)]
    crossing = sum(1 for rated in result.ratings if _crosses(rated))
    assert crossing > 600, crossing  # about a third cross a time-of-day band or midnight
    assert result.line_count == sum(len(rated.lines) for rated in result.ratings) > 2 * 2000


def test_libreoffice_recalculates_every_formula_to_the_core(recalculated):
    result, good, _bad, _ = recalculated
    expected = expected_cells(result)
    assert len(expected) == 2 * result.line_count + 3 * 2000 + 5 + 3 * 5 + 4 * 5
    assert mismatches(result.path, good, expected) == []
    values = openpyxl.load_workbook(good, data_only=True)[L.SUMMARY_SHEET]
    gross = sum((r.invoice.gross_total for r in result.ratings), Decimal(0))
    assert Decimal(repr(values["B6"].value)) == result.gross_total == gross
    assert values["B2"].value == 2000


def test_cached_values_show_the_totals_without_recalculation(recalculated):
    """Viewers that do not calculate read the stored results: the written file alone holds the core's values."""
    result, _, _, _ = recalculated
    assert mismatches(result.path, result.path, expected_cells(result)) == []


def test_the_check_fails_when_a_price_input_changes(recalculated):
    result, _good, bad, tampered = recalculated
    problems = mismatches(tampered, bad, expected_cells(result))
    assert any(f"'{L.LINES_SHEET}', 'J2'" in p for p in problems)  # the changed period's amount
    assert any(f"'{L.SESSIONS_SHEET}', '{L.COLUMN['Gross']}2'" in p for p in problems)  # its session's gross
    assert any(f"'{L.SUMMARY_SHEET}', 'B6'" in p for p in problems)  # the gross total


def test_exact_half_cent_rounds_up_like_the_core(tmp_path):
    """12.5 kWh at 0.45 = 5.625 -> 5.63 (ROUND_HALF_UP), through LibreOffice."""
    tariff = Tariff.model_validate({"id": "DAY", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.45", "vat": "19", "step_size": 1}]}]})
    session = _session(start="2026-03-02T10:00:00Z", end="2026-03-02T11:00:00Z", energy_kwh="12.5")
    result = export_workbook(tariff, [session], tmp_path / "half.xlsx")
    assert result.ratings[0].invoice.net_total == Decimal("5.63")
    (good,) = recalc([result.path], tmp_path)
    sheet = openpyxl.load_workbook(good, data_only=True)[L.SESSIONS_SHEET]
    assert sheet[f"{L.COLUMN['Net']}2"].value == pytest.approx(5.63, abs=1e-9)
    assert mismatches(result.path, good, expected_cells(result)) == []


def test_finance_layout_formats_frozen_headers_and_print_setup(tmp_path):
    result = export_workbook(tou_tariff(), random_sessions(30), tmp_path / "b.xlsx")
    book = openpyxl.load_workbook(result.path)
    assert book.sheetnames == [L.SUMMARY_SHEET, L.SESSIONS_SHEET, L.LINES_SHEET, L.TARIFF_SHEET]
    sessions, lines = book[L.SESSIONS_SHEET], book[L.LINES_SHEET]
    assert [c.value for c in sessions[1]] == [h for h, _, _ in L.SESSION_COLUMNS]
    assert [c.value for c in lines[1]] == [h for h, _, _ in L.LINE_COLUMNS]
    assert L.LINE_COLUMNS[9][1] == "=ROUND(F{r}*H{r},9)" and L.LINE["Billed"] == "F" and L.LINE["Unit price"] == "H"
    assert sessions.freeze_panes == "B2" and lines.freeze_panes == "B2"
    # numbers are numbers with finance formats; counts are integers; dates are dates
    assert sessions[f"{L.COLUMN['Energy (kWh)']}2"].value == pytest.approx(float(result.rows[0].energy_kwh))
    assert sessions[f"{L.COLUMN['Gross']}2"].number_format == '#,##0.00 "EUR"'
    assert sessions[f"{L.COLUMN['Priced periods']}2"].number_format == "0"
    assert sessions[f"{L.COLUMN['Start (local)']}2"].number_format == "yyyy-mm-dd hh:mm"
    assert book[L.SUMMARY_SHEET]["B2"].number_format == "0"
    for ws in (sessions, lines, book[L.SUMMARY_SHEET]):
        assert ws.page_setup.fitToWidth in (1, None) and ws.page_setup.fitToHeight == 0
        assert ws.sheet_properties.pageSetUpPr.fitToPage
    # widths fit: a date needs 16 characters, a money cell its digits and currency
    assert sessions.column_dimensions[L.COLUMN["Start (local)"]].width >= 16
    assert sessions.column_dimensions[L.COLUMN["Gross"]].width >= len("1,234.56 EUR")


def test_rendered_pages_are_legible(tmp_path):
    """LibreOffice prints the workbook to PDF: no ``###``, each sheet one page wide, the totals on page 1
    (page 1 is rendered to PNG to look at; it stays in tmp_path)."""
    result = export_workbook(tou_tariff(), random_sessions(60), tmp_path / "look.xlsx")
    profile = tmp_path / "lo-profile"
    subprocess.run([soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(result.path)],
                   capture_output=True, timeout=180, check=True)
    reader = PdfReader(tmp_path / "look.pdf")
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "###" not in text
    first = reader.pages[0].extract_text()
    assert "Totals (EUR)" in first and f"{result.gross_total:,.2f} EUR" in first
    assert all(float(page.mediabox.width) > float(page.mediabox.height) for page in reader.pages[:3])  # landscape
    # every Sessions column is on the page that has the session ids: one page wide
    sessions_page = next(p.extract_text() for p in reader.pages if "Session id" in p.extract_text()
                         and "Station" in p.extract_text())
    assert all(header in sessions_page for header in ("Gross", "Customer class", "Priced periods"))
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed; scripts/setup_system.sh installs it")
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", "-singlefile", str(tmp_path / "look.pdf"),
                    str(tmp_path / "page1")], check=True, timeout=60)
    image = Image.open(tmp_path / "page1.png").convert("L")
    assert image.size[0] > image.size[1]
    assert 200 < sum(image.histogram()[:128]) < image.size[0] * image.size[1] // 10


def _session(**fields: object) -> Session:
    base = {"id": "S-X", "start": "2026-03-02T15:30:00Z", "end": "2026-03-02T17:30:00Z", "energy_kwh": "20",
            "time_zone": "UTC"}
    return Session.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"min_price": {"excl_vat": "1"}}, "tariff.min_price"), ({"max_price": {"excl_vat": "90"}}, "tariff.max_price"),
     ({"x_taxes": [{"name": "GST", "rate": "5"}]}, "tariff.x_taxes")],
)
def test_tariffs_whose_totals_are_not_sums_of_periods_are_refused_by_name(tmp_path, changes, field):
    with pytest.raises(WorkbookError) as info:
        export_workbook(Tariff.model_validate({**TOU_TARIFF, **changes}), [], tmp_path / "x.xlsx")
    assert info.value.field == field and "not supported" in info.value.reason
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"end": None}, "sessions[0] (S-X).end", "ongoing"),
        ({"end": "2026-03-02T16:00:00Z", "currency": "USD"}, "sessions[0] (S-X).currency", "EUR"),
    ],
)
def test_sessions_the_core_cannot_price_are_refused_by_id(tmp_path, fields, field, words):
    with pytest.raises(WorkbookError) as info:
        export_workbook(tou_tariff(), [_session(**fields)], tmp_path / "x.xlsx")
    assert info.value.field == field and words in info.value.reason


def test_features_the_old_band_formulas_refused_now_export(tmp_path):
    """Midnight-crossing charging time, idle time, weekday restrictions, fractional seconds, 60 s steps:
    one row per priced period prices them all; LibreOffice agrees with the core."""
    per_minute = {"id": "MIX", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.39", "vat": "19", "step_size": 1}],
         "restrictions": {"day_of_week": ["SATURDAY", "SUNDAY"]}},
        {"price_components": [{"type": "ENERGY", "price": "0.49", "vat": "19", "step_size": 1},
                              {"type": "TIME", "price": "1.20", "vat": "19", "step_size": 60},
                              {"type": "PARKING_TIME", "price": "6.00", "vat": "19", "step_size": 60}]}]}
    sessions = [
        _session(id="S-MID", start="2026-03-06T23:30:00Z", end="2026-03-07T00:31:00Z", energy_kwh="10"),
        _session(id="S-IDLE", start="2026-03-02T10:00:00Z", end="2026-03-02T12:00:00Z", energy_kwh="30",
                 charging_ended_at="2026-03-02T11:15:00Z"),
        _session(id="S-FRAC", start="2026-03-02T10:00:00.5Z", end="2026-03-02T10:07:00Z", energy_kwh="3.3"),
    ]
    result = export_workbook(Tariff.model_validate(per_minute), sessions, tmp_path / "mix.xlsx")
    assert [r.session_id for r in result.rows] == ["S-MID", "S-IDLE", "S-FRAC"]
    (good,) = recalc([result.path], tmp_path)
    assert mismatches(result.path, good, expected_cells(result)) == []
