"""Workbook export: LibreOffice recalculates every formula and each equals the core to the cent."""

from __future__ import annotations

import zipfile
from decimal import Decimal

import openpyxl
import pytest

from connector.models import Session, Tariff
from connector.spreadsheets.workbook import WorkbookError, export_workbook
from tests.spreadsheets.excel.data import TOU_TARIFF, make_sessions, tou_tariff
from tests.spreadsheets.excel.expect import expected_cells, mismatches
from tests.spreadsheets.excel.lo_recalc import recalc


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory):
    """200 sessions written once, plus a tampered copy (VAT 20 %) to prove the check can fail."""
    soffice_dir = tmp_path_factory.mktemp("lo")
    tariff = tou_tariff()
    result = export_workbook(tariff, make_sessions(200, tariff), soffice_dir / "book.xlsx")
    book = openpyxl.load_workbook(result.path)
    book["Tariff"]["I5"] = Decimal(20)
    tampered = soffice_dir / "tampered.xlsx"
    book.save(tampered)
    good, bad = recalc([result.path, tampered], soffice_dir)
    return result, good, bad, tampered


def test_every_formula_cell_equals_the_core_to_the_cent(recalculated):
    result, good, _bad, _ = recalculated
    expected = expected_cells(result)
    assert len(expected) == 200 * 12 + 6 + 3 * 5 + 4 * 5  # session columns, totals, stations, classes
    assert mismatches(result.path, good, expected) == []
    values = openpyxl.load_workbook(good, data_only=True)
    assert Decimal(repr(values["Summary"]["B7"].value)) == result.gross_total == Decimal("4111.04")


def test_the_check_fails_when_a_price_input_changes(recalculated):
    result, _good, bad, tampered = recalculated
    problems = mismatches(tampered, bad, expected_cells(result))
    assert any("'Sessions', 'R2'" in p for p in problems)  # VAT of the first session
    assert any("'Summary', 'B7'" in p for p in problems)  # gross total


def test_exact_half_cent_rounds_up_like_the_core(recalculated):
    result, good, _, _ = recalculated
    sheet = openpyxl.load_workbook(good, data_only=True)["Sessions"]
    day_rows = [i for i, r in enumerate(result.rows) if r.energy_kwh == Decimal("12.5")
                and Decimal("0.45") in {ln.unit_price for ln in result.ratings[i].lines if ln.dimension == "ENERGY"}]
    assert day_rows, "test data must contain 12.5 kWh in the day band (5.625 EUR)"
    row = day_rows[0] + 2
    assert sheet[f"L{row}"].value == pytest.approx(5.63, abs=1e-9)


def test_layout_tables_and_chart(tmp_path):
    tariff = tou_tariff()
    result = export_workbook(tariff, make_sessions(5, tariff), tmp_path / "b.xlsx")
    book = openpyxl.load_workbook(result.path)
    assert book.sheetnames == ["Tariff", "Sessions", "Summary"]
    assert set(book["Tariff"].tables) == {"TariffBands"}
    assert book["Tariff"].tables["TariffBands"].ref == "A1:F6"  # 00-07, 07-17, 17-20, 20-22, 22-24
    assert [book["Tariff"][f"B{r}"].value for r in range(2, 7)] == ["00:00", "07:00", "17:00", "20:00", "22:00"]
    assert set(book["Sessions"].tables) == {"SessionsTable"}
    assert book["Sessions"]["I2"].value.startswith("=LOOKUP(H2,Tariff!$A$2:$A$6,")
    assert book["Sessions"]["G2"].value == result.rows[0].energy_kwh  # written as a number, not text
    with zipfile.ZipFile(result.path) as z:
        chart = z.read("xl/charts/chart1.xml").decode()
    assert "barChart" in chart and "'Summary'!$F$10:" in chart and "'Summary'!$A$10:" in chart


def _tariff(**changes: object) -> Tariff:
    data = {**TOU_TARIFF, **changes}
    return Tariff.model_validate(data)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"min_price": {"excl_vat": "1"}}, "tariff.min_price", "not supported"),
        ({"elements": [{"price_components": [{"type": "ENERGY", "price": "0.3"}],
                        "restrictions": {"day_of_week": ["MONDAY"]}}]},
         "tariff.elements[0].restrictions.day_of_week", "time-of-day"),
        ({"elements": [{"price_components": [{"type": "PARKING_TIME", "price": "2"}]}]},
         "tariff.elements[0].price_components[0].type", "PARKING_TIME"),
        ({"elements": [{"price_components": [{"type": "TIME", "price": "2"}],
                        "restrictions": {"start_time": "08:00"}}]},
         "tariff.elements[0].price_components[0].type", "only price ENERGY"),
        ({"elements": [{"price_components": [{"type": "ENERGY", "price": "0.3", "vat": "19"},
                                             {"type": "FLAT", "price": "1", "vat": "7"}]}]},
         "tariff.vat", "mixed VAT"),
    ],
)
def test_unsupported_tariff_features_are_refused_by_name(tmp_path, changes, field, words):
    with pytest.raises(WorkbookError) as info:
        export_workbook(_tariff(**changes), [], tmp_path / "x.xlsx")
    assert info.value.field == field and words in info.value.reason
    assert not (tmp_path / "x.xlsx").exists()


def _session(**fields: object) -> Session:
    base = {"id": "S-X", "start": "2026-03-02T15:30:00Z", "end": "2026-03-02T17:30:00Z", "energy_kwh": "20",
            "time_zone": "UTC"}
    return Session.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({}, "sessions[0] (S-X).start", "crosses a time-of-day band"),  # 15:30-17:30 crosses 17:00
        ({"end": None}, "sessions[0] (S-X).end", "ongoing"),
        ({"start": "2026-03-02T10:00:00.5Z", "end": "2026-03-02T11:00:00Z"}, "sessions[0] (S-X).start",
         "fractional seconds"),
        ({"end": "2026-03-02T16:00:00Z", "charging_ended_at": "2026-03-02T15:45:00Z"},
         "sessions[0] (S-X).charging_ended_at", "idle"),
        ({"end": "2026-03-02T16:00:00Z", "currency": "USD"}, "sessions[0] (S-X).currency", "EUR"),
    ],
)
def test_sessions_outside_the_subset_are_refused_by_id(tmp_path, fields, field, words):
    with pytest.raises(WorkbookError) as info:
        export_workbook(tou_tariff(), [_session(**fields)], tmp_path / "x.xlsx")
    assert info.value.field == field and words in info.value.reason


ENERGY_ONLY = {**TOU_TARIFF, "elements": TOU_TARIFF["elements"][:3]}


def test_session_crossing_midnight_inside_the_night_band_is_accepted_without_time_price(tmp_path):
    session = _session(start="2026-03-02T23:10:00Z", end="2026-03-03T00:50:00Z", energy_kwh="10.05")
    result = export_workbook(Tariff.model_validate(ENERGY_ONLY), [session], tmp_path / "n.xlsx")
    # 10.05 kWh billed in 100 Wh steps = 10.1 x 0.295 = 2.9795 -> 2.98 net, 0.57 VAT
    assert result.ratings[0].invoice.net_total == Decimal("2.98")
    assert result.gross_total == Decimal("3.55")


def test_charging_time_split_over_midnight_is_refused(tmp_path):
    session = _session(start="2026-03-02T23:30:00Z", end="2026-03-03T00:31:00Z", energy_kwh="10")
    with pytest.raises(WorkbookError) as info:
        export_workbook(tou_tariff(), [session], tmp_path / "x.xlsx")
    assert info.value.field == "sessions[0] (S-X).end" and "crosses local midnight" in info.value.reason


PER_MINUTE = {"id": "PER-MIN", "currency": "EUR",
              "elements": [{"price_components": [{"type": "TIME", "price": "1.20", "vat": "19", "step_size": 60}]}]}


def test_time_steps_the_core_cannot_divide_exactly_are_refused(tmp_path):
    with pytest.raises(WorkbookError) as info:
        export_workbook(Tariff.model_validate(PER_MINUTE), [], tmp_path / "x.xlsx")
    assert info.value.field == "tariff.elements[0].price_components[0].step_size"
    assert "multiple of 9 s" in info.value.reason


def test_core_bills_a_7_minute_session_in_60_s_steps_as_7_minutes():
    from connector.rating import rate

    session = _session(start="2026-03-02T08:00:00Z", end="2026-03-02T08:07:00Z", energy_kwh="0")
    rated = rate(session, Tariff.model_validate(PER_MINUTE))
    time_lines = [ln for ln in rated.lines if ln.dimension == "TIME"]
    assert (sum(ln.billed_volume for ln in time_lines) * 3600).quantize(Decimal(1)) == Decimal(420)
    assert rated.total_cost.excl_vat == Decimal("0.1400")  # 7 × 1.20/60, not 8 minutes
