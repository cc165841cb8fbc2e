"""Cumulative meter readings never go down: refused naming the field, in the model, the API and OCPP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from connector.api import create_app
from connector.ingest.ocpp.meter import readings, to_samples
from connector.models import Session
from connector.models.energy_profile import first_decrease
from connector.models.session_event import IngestError
from connector.validation import field_errors

KEY = {"X-API-Key": "k-readings"}
T0, T1, T2 = "2026-01-13T14:00:00Z", "2026-01-13T14:10:00Z", "2026-01-13T14:20:00Z"


def _session(**extra: Any) -> dict[str, Any]:
    return {"id": "S", "start": T0, **extra}


def test_first_decrease_reads_in_time_order() -> None:
    at = [Session.model_validate(_session()).start.replace(minute=m) for m in (0, 10, 20)]
    assert first_decrease([(at[0], Decimal(1)), (at[1], Decimal(1)), (at[2], Decimal(2))]) is None
    assert first_decrease([(at[0], Decimal(1)), (at[1], Decimal(3)), (at[2], Decimal(2))]) == (2, 1)
    # given out of order, compared in time order: (20 min, 2) follows (10 min, 3)
    assert first_decrease([(at[2], Decimal(2)), (at[0], Decimal(1)), (at[1], Decimal(3))]) == (0, 2)


def test_session_refuses_a_reading_below_an_earlier_one() -> None:
    with pytest.raises(ValidationError) as info:
        Session.model_validate(_session(meter_samples=[[T1, "5"], [T2, "4.999"]]))
    [error] = field_errors(info.value, "session")
    assert error["field"] == "session.meter_samples"
    assert error["reason"].startswith("[1].energy_kwh 4.999 is below the earlier reading 5")
    # equal readings (nothing drawn) are fine
    Session.model_validate(_session(meter_samples=[[T1, "5"], [T2, "5"]]))


def test_session_refuses_a_total_below_the_last_reading() -> None:
    with pytest.raises(ValidationError) as info:
        Session.model_validate(_session(end=T2, energy_kwh="4", meter_samples=[[T1, "5"]]))
    assert "energy_kwh: 4 is below the last meter reading 5" in str(info.value)
    Session.model_validate(_session(end=T2, energy_kwh="5", meter_samples=[[T1, "5"]]))


def test_api_refuses_a_lower_reading_across_events(tmp_path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "API_KEYS": {KEY["X-API-Key"]: "R"},
                      "TESTING": True})
    client = app.test_client()

    def post(event_id: str, kind: str, **body: Any) -> Any:
        return client.post("/v1/sessions/events", headers=KEY, json={
            "event_id": event_id, "type": kind, "session_id": "S-M", "timestamp": T1, **body})

    assert post("e1", "start", session={"start": T0}, meter_samples=[[T1, "5"]]).status_code == 202
    r = post("e2", "update", meter_samples=[[T2, "3"]])
    assert r.status_code == 422, r.get_data(as_text=True)
    [error] = r.get_json()["errors"]
    assert error["field"] == "session.meter_samples" and "below the earlier reading 5" in error["reason"]
    # nothing kept: the session still holds one sample
    assert client.get("/v1/sessions/S-M", headers=KEY).get_json()["session"]["meter_samples"] == [
        {"timestamp": "2026-01-13T14:10:00Z", "energy_kwh": "5"}]
    app.extensions["evbill.engine"].dispose()


def _mv(at: str, wh: str) -> dict[str, Any]:
    return {"timestamp": at, "sampled_value": [{"value": wh, "measurand": "Energy.Active.Import.Register"}]}


def test_ocpp_register_going_down_names_the_meter_value() -> None:
    with pytest.raises(IngestError) as info:
        to_samples(readings([_mv(T1, "15000"), _mv(T2, "14000")], "meterValue"), Decimal(10000))
    assert info.value.field == "meterValue[1].sampled_value" and "must not go down" in info.value.reason
    # below the last reading of an earlier message
    with pytest.raises(IngestError) as info:
        to_samples(readings([_mv(T2, "14000")], "meterValue"), Decimal(10000), Decimal(5))
    assert info.value.field == "meterValue[0].sampled_value"
    # below the meter start: refused, not clamped to 0 kWh
    with pytest.raises(IngestError) as info:
        to_samples(readings([_mv(T1, "9000")], "transactionData"), Decimal(10000))
    assert info.value.field == "transactionData[0].sampled_value" and "meter start" in info.value.reason
    samples, last = to_samples(readings([_mv(T1, "15000"), _mv(T2, "15000")]), Decimal(10000))
    assert [s["energy_kwh"] for s in samples] == ["5", "5"] and last == Decimal(5)
