"""CSMS end to end: real websockets on 127.0.0.1, charge points from the same ``ocpp`` package."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from connector.ingest.memory import MemorySink
from connector.ingest.ocpp.csms import Csms, CsmsSettings
from tests.ingest.conftest import assert_valid
from tests.ingest.ocpp_clients import Connected
from tests.ingest.probe import billed, stored

T0 = "2026-11-24T10:00:00Z"
T15 = "2026-11-24T10:15:00Z"
T30 = "2026-11-24T10:30:00Z"


def energy16(ts: str, wh: int, context: str = "Sample.Periodic", power_w: int | None = None) -> dict[str, Any]:
    values: list[dict[str, Any]] = [{"value": str(wh), "context": context,
                                     "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]
    if power_w is not None:
        values.append({"value": str(power_w), "context": context, "measurand": "Power.Active.Import", "unit": "W"})
    return {"timestamp": ts, "sampled_value": values}


def energy201(ts: str, wh: float, context: str = "Sample.Periodic", kw: float | None = None) -> dict[str, Any]:
    values: list[dict[str, Any]] = [{"value": wh, "context": context, "measurand": "Energy.Active.Import.Register",
                                     "unit_of_measure": {"unit": "Wh"}}]
    if kw is not None:
        values.append({"value": kw, "context": context, "measurand": "Power.Active.Import",
                       "unit_of_measure": {"unit": "kW"}})
    return {"timestamp": ts, "sampled_value": values}


async def started_csms(sink: Any, **settings: Any) -> tuple[Csms, Any, str]:
    csms = Csms(sink, CsmsSettings(**settings))
    server = await csms.serve("127.0.0.1", 0)
    port = next(iter(server.sockets)).getsockname()[1]
    return csms, server, f"ws://127.0.0.1:{port}/ocpp"


def test_ocpp16_transaction_priced_from_meter_samples(tou_sink) -> None:
    sink = tou_sink

    async def scenario() -> None:
        csms, server, url = await started_csms(sink, cost_update_interval=0)
        async with Connected(url, "ocpp1.6", "CP16-A") as (cp, rec):
            boot = await cp.call(call16.BootNotification(charge_point_model="M1", charge_point_vendor="V"))
            assert boot.status == "Accepted"
            auth = await cp.call(call16.Authorize(id_tag="04A1B2C3D4"))
            assert auth.id_tag_info["status"] == "Accepted"
            start = await cp.call(call16.StartTransaction(connector_id=1, id_tag="04A1B2C3D4", meter_start=1000,
                                                          timestamp=T0))
            tx = start.transaction_id
            await cp.call(call16.MeterValues(connector_id=1, transaction_id=tx,
                                             meter_value=[energy16(T15, 13000, power_w=48000)]))
            # a charger re-sending the same MeterValues after a reconnect: ignored
            await cp.call(call16.MeterValues(connector_id=1, transaction_id=tx,
                                             meter_value=[energy16(T15, 13000, power_w=48000)]))
            stop = await cp.call(call16.StopTransaction(
                meter_stop=19200, timestamp=T30, transaction_id=tx, reason="EVDisconnected", id_tag="04A1B2C3D4",
                transaction_data=[energy16(T30, 19200, "Transaction.End")]))
            assert stop.id_tag_info["status"] == "Accepted"
            for body in rec.calls("out", "MeterValues"):
                assert_valid("ocpp16/MeterValues.req.schema.json", body)
            for body in rec.calls("out", "StopTransaction"):
                assert_valid("ocpp16/StopTransaction.req.schema.json", body)
            for body in rec.results_for("StopTransaction"):
                assert_valid("ocpp16/StopTransaction.conf.schema.json", body)
            session_id = f"CP16-A-{tx}"
        server.close()
        await server.wait_closed()
        doc = stored(sink, "default", session_id)
        assert [s["energy_kwh"] for s in doc["meter_samples"]] == ["0", "12", "18.2"]
        assert doc["meter_samples"][1]["power_kw"] == "48.000"
        rated = billed(sink, "default", session_id)
        # 12 kWh × 0.20 before 10:15 + 6.2 kWh × 0.40 after: 4.88 net (a uniform spread would give 5.46)
        assert (rated["net_total"], rated["tax_total"], rated["amount_due"]) == ("4.88", "0.93", "5.81")
        assert csms.stats["events.duplicate"] == 1
        assert csms.stats["sessions.ended"] == 1

    asyncio.run(scenario())


def test_ocpp201_cost_updated_and_final_total_cost(tou_sink) -> None:
    sink = tou_sink

    async def scenario() -> None:
        csms, server, url = await started_csms(sink, cost_update_interval=0)
        async with Connected(url, "ocpp2.0.1", "CS201-B") as (cp, rec):
            boot = await cp.call(call201.BootNotification(charging_station={"model": "M2", "vendor_name": "V"},
                                                          reason="PowerUp"))
            assert boot.status == "Accepted"
            info = {"transaction_id": "TX-S-123"}
            token = {"id_token": "04A1B2C3D4", "type": "ISO14443"}
            started = await cp.call(call201.TransactionEvent(
                event_type="Started", timestamp=T0, trigger_reason="Authorized", seq_no=1,
                transaction_info={**info, "charging_state": "Charging"}, id_token=token,
                evse={"id": 1, "connector_id": 1}, meter_value=[energy201(T0, 1000, "Transaction.Begin")]))
            assert started.id_token_info["status"] == "Accepted"
            await cp.call(call201.TransactionEvent(
                event_type="Updated", timestamp=T15, trigger_reason="MeterValuePeriodic", seq_no=2,
                transaction_info=info, meter_value=[energy201(T15, 13000, kw=48.0)]))
            await asyncio.wait_for(cp.cost_event.wait(), 10)
            assert cp.cost_updates == [{"total_cost": 2.86, "transaction_id": "TX-S-123"}]
            ended = await cp.call(call201.TransactionEvent(
                event_type="Ended", timestamp=T30, trigger_reason="EVDeparted", seq_no=3,
                transaction_info={**info, "stopped_reason": "EVDisconnected"},
                meter_value=[energy201(T30, 19200, "Transaction.End")]))
            assert ended.total_cost == 5.81
            # the same Ended again (lost response): a duplicate, same final cost
            again = await cp.call(call201.TransactionEvent(
                event_type="Ended", timestamp=T30, trigger_reason="EVDeparted", seq_no=3,
                transaction_info={**info, "stopped_reason": "EVDisconnected"},
                meter_value=[energy201(T30, 19200, "Transaction.End")]))
            assert again.total_cost == 5.81
            for body in rec.calls("out", "TransactionEvent"):
                assert_valid("ocpp201/TransactionEventRequest.schema.json", body)
            for body in rec.results_for("TransactionEvent"):
                assert_valid("ocpp201/TransactionEventResponse.schema.json", body)
            cost_calls = rec.calls("in", "CostUpdated")
            assert cost_calls == [{"totalCost": 2.86, "transactionId": "TX-S-123"}]
            assert_valid("ocpp201/CostUpdatedRequest.schema.json", cost_calls[0])
        server.close()
        await server.wait_closed()
        assert billed(sink, "default", "CS201-B-TX-S-123")["amount_due"] == "5.81"
        assert csms.stats["sessions.ended"] == 1
        assert csms.stats["events.duplicate"] == 1

    asyncio.run(scenario())


def test_malformed_messages_rejected_and_stream_continues(tou_sink) -> None:
    sink = tou_sink

    async def scenario() -> None:
        csms, server, url = await started_csms(sink)
        async with Connected(url, "ocpp1.6", "CP16-C") as (cp, rec):
            # schema violation (idTag longer than 20): the ocpp package answers with a CallError
            await cp.call(call16.StartTransaction(connector_id=1, id_tag="X" * 25, meter_start=0, timestamp=T0),
                          skip_schema_validation=True)
            # unknown transaction: our CallError names the field
            await cp.call(call16.MeterValues(connector_id=1, transaction_id=999,
                                             meter_value=[energy16(T15, 100)]))
            start = await cp.call(call16.StartTransaction(connector_id=1, id_tag="TAG", meter_start=0, timestamp=T0))
            # a unit we cannot convert: rejected with field + reason
            await cp.call(call16.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[
                {"timestamp": T15, "sampled_value": [{"value": "5", "measurand": "Power.Active.Import",
                                                      "unit": "kVA"}]}]))
            # 10 kWh spread evenly over 10:00-10:30: 5 × 0.20 + 5 × 0.40 = 3.00 net
            stop = await cp.call(call16.StopTransaction(meter_stop=10000, timestamp=T30,
                                                        transaction_id=start.transaction_id))
            assert stop is not None
            errors = rec.errors()
        server.close()
        await server.wait_closed()
        assert [e[2] for e in errors][1:] == ["PropertyConstraintViolation", "PropertyConstraintViolation"]
        assert errors[0][2].endswith("Violation")
        assert "transactionId: unknown transaction 999" in errors[1][3]
        assert "meterValue[0].sampled_value[0].unit" in errors[2][3]
        assert csms.stats["rejected"] == 2
        assert csms.stats["sessions.ended"] == 1
        assert billed(sink, "default", f"CP16-C-{start.transaction_id}")["net_total"] == "3.00"

    asyncio.run(scenario())


@pytest.mark.parametrize("bad", ["ocpp1.5"])
def test_unknown_subprotocol_refused(bad: str, tou_tariff) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake

    async def scenario() -> None:
        csms, server, url = await started_csms(MemorySink([tou_tariff]))
        with pytest.raises(InvalidHandshake):
            async with connect(f"{url}/X", subprotocols=[bad]) as ws:  # type: ignore[list-item]
                await ws.recv()
        server.close()

    asyncio.run(scenario())


IDLE_TARIFF = {
    "id": "IDLE", "currency": "EUR", "country_code": "DE", "party_id": "EVB", "last_updated": "2026-01-01T00:00:00Z",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": 19, "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": "6.00", "vat": 19, "step_size": 60}]},
    ],
}


@pytest.mark.parametrize("kind", ["memory", "database"])
def test_idle_time_from_charging_state_and_status_notification(kind: str, tmp_path) -> None:
    from connector.models import Tariff
    from tests.ingest.probe import build_sink

    sink = build_sink(kind, [Tariff.model_validate(IDLE_TARIFF)], tmp_path)
    t20 = "2026-11-24T10:20:00Z"

    async def scenario() -> int:
        _csms, server, url = await started_csms(sink)
        async with Connected(url, "ocpp2.0.1", "IDLE-201") as (cp, _rec):
            info = {"transaction_id": "TX-I"}
            await cp.call(call201.TransactionEvent(
                event_type="Started", timestamp=T0, trigger_reason="Authorized", seq_no=1,
                transaction_info={**info, "charging_state": "Charging"},
                meter_value=[energy201(T0, 0, "Transaction.Begin")]))
            await cp.call(call201.TransactionEvent(
                event_type="Updated", timestamp=t20, trigger_reason="ChargingStateChanged", seq_no=2,
                transaction_info={**info, "charging_state": "SuspendedEV"}, meter_value=[energy201(t20, 10000)]))
            await cp.call(call201.TransactionEvent(
                event_type="Ended", timestamp=T30, trigger_reason="EVDeparted", seq_no=3, transaction_info=info,
                meter_value=[energy201(T30, 10000, "Transaction.End")]))
        async with Connected(url, "ocpp1.6", "IDLE-16") as (cp, _rec):
            start = await cp.call(call16.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp=T0))
            await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="SuspendedEV",
                                                    timestamp=t20))
            await cp.call(call16.StopTransaction(meter_stop=10000, timestamp=T30, transaction_id=start.transaction_id))
        server.close()
        await server.wait_closed()
        return start.transaction_id

    tx16 = asyncio.run(scenario())
    for station, session_id in (("IDLE-201", "IDLE-201-TX-I"), ("IDLE-16", f"IDLE-16-{tx16}")):
        assert stored(sink, "default", session_id).get("charging_ended_at", "").startswith("2026-11-24T10:20:00"), (
            station, stored(sink, "default", session_id))
        # 10 kWh × 0.30 + 10 idle minutes × 6.00/h = 3.00 + 1.00 net, 19 % VAT
        assert billed(sink, "default", session_id) == {"net_total": "4.00", "tax_total": "0.76",
                                                        "amount_due": "4.76", "total_excl_vat": "4.0000"}


def test_csms_restart_recovers_open_transaction(tmp_path, tou_tariff) -> None:
    from tests.ingest.probe import build_sink

    sink = build_sink("database", [tou_tariff], tmp_path)

    async def scenario() -> int:
        _csms, server, url = await started_csms(sink)
        async with Connected(url, "ocpp1.6", "CP-R") as (cp, _rec):
            start = await cp.call(call16.StartTransaction(connector_id=2, id_tag="T", meter_start=1000, timestamp=T0))
            await cp.call(call16.MeterValues(connector_id=2, transaction_id=start.transaction_id,
                                             meter_value=[energy16(T15, 13000)]))
        server.close()
        await server.wait_closed()
        # a new CSMS process (no memory of the transaction) on the same database
        _csms2, server2, url2 = await started_csms(sink)
        async with Connected(url2, "ocpp1.6", "CP-R") as (cp, rec):
            stop = await cp.call(call16.StopTransaction(meter_stop=19200, timestamp=T30,
                                                        transaction_id=start.transaction_id))
            assert stop is not None and not rec.errors()
        server2.close()
        await server2.wait_closed()
        return start.transaction_id

    tx = asyncio.run(scenario())
    assert billed(sink, "default", f"CP-R-{tx}")["amount_due"] == "5.81"  # same as without the restart


def test_concurrent_duplicates_are_stored_once(tmp_path, tou_tariff) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from connector.models.session_event import parse_event
    from tests.ingest.probe import build_sink

    sink = build_sink("database", [tou_tariff], tmp_path)
    start = parse_event({"event_id": "e-start", "type": "start", "session_id": "S", "timestamp": T0,
                         "session": {"start": T0}})
    end = parse_event({"event_id": "e-end", "type": "end", "session_id": "S", "timestamp": T30,
                       "session": {"end": T30, "energy_kwh": "10"}})
    sink.ingest("t", start)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: sink.ingest("t", end), range(16)))
    assert sorted(o.status for o in outcomes).count("accepted") == 1
    assert {str(o.total_cost) for o in outcomes} == {"3.57"}  # duplicates answer the same bill


def test_ocpp16_meter_stop_below_meter_start_is_refused_not_billed_at_zero(tou_sink) -> None:
    """A register that ran backwards and no samples: a CallError naming meterStop, nothing billed."""
    sink = tou_sink

    async def scenario() -> None:
        csms, server, url = await started_csms(sink)
        async with Connected(url, "ocpp1.6", "CP16-R") as (cp, rec):
            start = await cp.call(call16.StartTransaction(connector_id=1, id_tag="TAG", meter_start=50000,
                                                          timestamp=T0))
            await cp.call(call16.StopTransaction(meter_stop=1200, timestamp=T30, transaction_id=start.transaction_id))
            errors = rec.errors()
        server.close()
        await server.wait_closed()
        assert [e[2] for e in errors] == ["PropertyConstraintViolation"]
        assert "meterStop: 1200 Wh is below meterStart 50000 Wh" in errors[0][3]
        assert csms.rejections[-1]["field"] == "meterStop" and csms.stats.get("sessions.ended", 0) == 0
        session = stored(sink, "default", f"CP16-R-{start.transaction_id}")
        assert session is not None and not session.get("end")  # still open: nothing billed at 0 kWh

    asyncio.run(scenario())
