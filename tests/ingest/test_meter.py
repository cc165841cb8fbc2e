"""OCPP meter values → meter samples: units, multipliers, phases, outlet only, carry-forward."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector.ingest.ocpp.meter import readings, to_samples
from connector.models.session_event import IngestError


def test_201_units_multiplier_and_phases() -> None:
    mv = [{"timestamp": "2026-11-24T10:15:00Z", "sampled_value": [
        {"value": 13.5, "measurand": "Energy.Active.Import.Register", "unit_of_measure": {"unit": "kWh"}},
        {"value": 7.0, "measurand": "Power.Active.Import", "phase": "L1", "unit_of_measure": {"unit": "kW"}},
        {"value": 7.5, "measurand": "Power.Active.Import", "phase": "L2", "unit_of_measure": {"unit": "kW"}},
        {"value": 31, "measurand": "Current.Import", "phase": "L1"},
        {"value": 32, "measurand": "Current.Import", "phase": "L2"},
        {"value": 99, "measurand": "Current.Import", "location": "Inlet"},
        {"value": 80, "measurand": "SoC"},
    ]}, {"timestamp": "2026-11-24T10:16:00Z", "sampled_value": [
        {"value": 22, "measurand": "Power.Active.Import", "unit_of_measure": {"unit": "W", "multiplier": 3}}]}]
    found = readings(mv)
    assert found[0].register_wh == Decimal("13500.0")
    assert found[0].power_kw == Decimal("14.5") and found[0].current_a == Decimal("32")
    samples, last = to_samples(found, Decimal(1000))
    assert samples[0]["energy_kwh"] == "12.5" and samples[0]["power_kw"] == "14.5"
    # power-only reading: energy carried forward, power 22 W × 10³ = 22 kW
    assert samples[1]["energy_kwh"] == "12.5" and Decimal(samples[1]["power_kw"]) == Decimal(22)
    assert last == Decimal("12.5")


def test_16_default_measurand_and_total_without_phase_wins() -> None:
    mv = [{"timestamp": "2026-11-24T10:15:00+01:00", "sampled_value": [
        {"value": "5000"},
        {"value": "1000", "measurand": "Energy.Active.Import.Register", "phase": "L1"}]}]
    samples, _ = to_samples(readings(mv), Decimal(0))
    assert samples == [{"timestamp": "2026-11-24T10:15:00+01:00", "energy_kwh": "5"}]


@pytest.mark.parametrize(("mv", "field"), [
    ([{"timestamp": "yesterday", "sampled_value": []}], "meter_value[0].timestamp"),
    ([{"timestamp": "2026-11-24T10:15:00", "sampled_value": []}], "meter_value[0].timestamp"),
    ([{"timestamp": "2026-11-24T10:15:00Z", "sampled_value": [{"value": "x"}]}],
     "meter_value[0].sampled_value[0].value"),
    ([{"timestamp": "2026-11-24T10:15:00Z", "sampled_value": [{"value": "1", "unit": "varh"}]}],
     "meter_value[0].sampled_value[0].unit"),
])
def test_bad_values_name_the_field(mv, field) -> None:
    with pytest.raises(IngestError) as exc:
        readings(mv)
    assert exc.value.field == field
