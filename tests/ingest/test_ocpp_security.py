"""OCPP security profiles 1-3 at the handshake, password rotation and offline replays, end to end.

Stations are the ``ocpp`` package's own ``ChargePoint`` over real websockets on 127.0.0.1 (wss with a CA
made in the test); the registry, the tariff and the bill live in one SQLite database and the sink is the
production billing path (``BillingService``: tariff from the database by the station's ``tariff_id``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from sqlalchemy import Engine
from sqlalchemy.orm import Session as DbSession
from websockets.exceptions import InvalidMessage, InvalidStatus

from connector.billing.intake import DatabaseSink
from connector.ingest.ocpp.csms import Csms, CsmsSettings
from connector.ingest.ocpp.security import StationRegistry, server_tls_context
from connector.models import Tariff
from connector.security.passwords import hash_password, verify_password
from connector.storage import repo
from connector.storage import stations as station_store
from connector.storage.db import make_engine
from tests.ingest.conftest import TOU_TARIFF
from tests.ingest.ocpp_clients import Connected
from tests.ingest.pki import Pki
from tests.ingest.probe import billed
from tests.ingest.test_ocpp import T0, T15, T30, energy16, energy201

PASSWORD = "Station-pw-0123456789"
FIELDS = {"tariff_id": "TOU", "currency": "EUR", "time_zone": "UTC"}
VERSIONS = ["ocpp1.6", "ocpp2.0.1"]


class Setup:
    """A database with the TOU tariff and three stations per version (profiles 1, 2, 3), a CSMS with a ws
    and a wss listener in front of it."""

    def __init__(self, tmp_path: Path) -> None:
        self.engine: Engine = make_engine(f"sqlite:///{tmp_path}/csms.db")
        self.sink = DatabaseSink(self.engine)
        self.pki = Pki(tmp_path)
        with DbSession(self.engine) as db:
            repo.create_tariff(db, "default", Tariff.model_validate(TOU_TARIFF))
            for version in ("16", "201"):
                for profile in (1, 2, 3):
                    station_store.add_station(db, "default", f"P{profile}-{version}", profile,
                                              None if profile == 3 else hash_password(PASSWORD), FIELDS)
            db.commit()
        self.registry = StationRegistry(self.engine, "default")
        self.csms = Csms(self.sink, CsmsSettings(cost_update_interval=0), self.registry)

    async def start(self) -> None:
        self.plain = await self.csms.serve("127.0.0.1", 0)
        tls = server_tls_context(self.pki.server_cert, self.pki.server_key, self.pki.ca_path)
        self.secure = await self.csms.serve("127.0.0.1", 0, tls)
        self.ws = f"ws://127.0.0.1:{next(iter(self.plain.sockets)).getsockname()[1]}/ocpp"
        self.wss = f"wss://127.0.0.1:{next(iter(self.secure.sockets)).getsockname()[1]}/ocpp"

    async def stop(self) -> None:
        for server in (self.plain, self.secure):
            server.close()
            await server.wait_closed()

    def connect(self, version: str, station: str, profile: int, password: str | None = PASSWORD,
                cert_cn: str | None = None) -> Connected:
        if profile == 1:
            return Connected(self.ws, version, station, password)
        context = self.pki.client_context(cert_cn)
        return Connected(self.wss, version, station, password if profile == 2 else None, context)


def station_id(version: str, profile: int) -> str:
    return f"P{profile}-{'16' if version == 'ocpp1.6' else '201'}"


async def billed_session(cp: Any, version: str, station: str) -> str:
    """One TOU session: 12 kWh before 10:15, 6.2 kWh after → 5.81 EUR incl. 19 % VAT. Returns its id."""
    if version == "ocpp1.6":
        start = await cp.call(call16.StartTransaction(connector_id=1, id_tag="TAG1", meter_start=1000, timestamp=T0))
        tx = start.transaction_id
        await cp.call(call16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[energy16(T15, 13000)]))
        await cp.call(call16.StopTransaction(meter_stop=19200, timestamp=T30, transaction_id=tx))
        return f"{station}-{tx}"
    info = {"transaction_id": "TX-1"}
    await cp.call(call201.TransactionEvent(event_type="Started", timestamp=T0, trigger_reason="Authorized", seq_no=1,
                                           transaction_info=info, meter_value=[energy201(T0, 1000)]))
    await cp.call(call201.TransactionEvent(event_type="Updated", timestamp=T15, trigger_reason="MeterValuePeriodic",
                                           seq_no=2, transaction_info=info, meter_value=[energy201(T15, 13000)]))
    await asyncio.wait_for(cp.cost_event.wait(), 10)
    assert cp.cost_updates == [{"total_cost": 2.86, "transaction_id": "TX-1"}]  # the running cost, from the DB
    ended = await cp.call(call201.TransactionEvent(event_type="Ended", timestamp=T30, trigger_reason="EVDeparted",
                                                   seq_no=3, transaction_info=info,
                                                   meter_value=[energy201(T30, 19200)]))
    assert ended.total_cost == 5.81
    return f"{station}-TX-1"


@pytest.mark.parametrize("profile", [1, 2, 3])
@pytest.mark.parametrize("version", VERSIONS)
def test_registered_station_completes_a_billed_session(version: str, profile: int, tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    station = station_id(version, profile)

    async def scenario() -> str:
        await setup.start()
        try:
            async with setup.connect(version, station, profile, cert_cn=station) as (cp, _rec):
                return await billed_session(cp, version, station)
        finally:
            await setup.stop()

    session_id = asyncio.run(scenario())
    assert billed(setup.sink, "default", session_id)["amount_due"] == "5.81"
    assert setup.csms.stats["handshakes.refused"] == 0


REFUSALS = {
    # name: (profile of the registered station, station id used, password, client certificate CN)
    "unregistered id": (1, "NOBODY", PASSWORD, None),
    "wrong password": (1, None, "Wrong-password-0000000", None),
    "no password": (1, None, None, None),
    "profile 2 station without TLS": (1, "P2", PASSWORD, None),
    "profile 2 wrong password": (2, None, "Wrong-password-0000000", None),
    "profile 3 without a client certificate": (3, None, None, None),
    "profile 3 certificate of another station": (3, None, None, "P3-other"),
    "profile 3 station on plain ws with its password": (1, "P3", PASSWORD, None),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
@pytest.mark.parametrize("version", VERSIONS)
def test_refused_in_the_handshake(version: str, case: str, tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    profile, name, password, cert_cn = REFUSALS[case]
    suffix = "16" if version == "ocpp1.6" else "201"
    station = f"{name}-{suffix}" if name and name.startswith("P") else (name or station_id(version, profile))

    async def scenario() -> int:
        await setup.start()
        try:
            with pytest.raises(InvalidStatus) as refused:
                async with setup.connect(version, station, profile, password, cert_cn):
                    pass
            return refused.value.response.status_code
        finally:
            await setup.stop()

    assert asyncio.run(scenario()) == 401
    assert setup.csms.stats["handshakes.refused"] == 1
    assert setup.csms.stats["connections"] == 0  # no OCPP frame was ever read


def test_certificate_from_another_ca_fails_tls(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    (tmp_path / "rogue").mkdir()
    rogue = Pki(tmp_path / "rogue")  # a CA the CSMS does not trust
    context = setup.pki.client_context()
    cert, key = rogue.issue("P3-201")
    context.load_cert_chain(cert, key)

    async def scenario() -> None:
        await setup.start()
        try:
            # TLS 1.3: the server rejects the certificate after the client's handshake ends, so the client
            # sees the connection closed before any HTTP answer
            with pytest.raises((ssl.SSLError, ConnectionError, InvalidMessage)):
                async with Connected(setup.wss, "ocpp2.0.1", "P3-201", None, context) as (cp, _rec):
                    await cp.call(call201.Heartbeat())
        finally:
            await setup.stop()

    asyncio.run(scenario())
    assert setup.csms.stats["connections"] == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_password_rotation_stored_only_once_accepted(version: str, tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    station = station_id(version, 1)

    def stored_hash() -> str | None:
        with DbSession(setup.engine) as db:
            row = station_store.get_station(db, "default", station)
            assert row is not None
            return row.password_hash

    before = stored_hash()

    async def scenario() -> str:
        await setup.start()
        try:
            async with setup.connect(version, station, 1) as (cp, _rec):
                cp.password_status = "Rejected"
                assert await setup.csms.rotate_password(station) == "Rejected"
                assert stored_hash() == before  # the station kept its password: so do we
                cp.password_status = "Accepted"
                with DbSession(setup.engine) as db:  # the operator asks (evbill stations rotate-password)
                    station_store.request_rotation(db, "default", station)
                    db.commit()
                assert await setup.csms.rotate_requested() == {station: "Accepted"}
                new_password: str = cp.new_passwords[-1]
            # the old password no longer opens a connection, the new one does
            with pytest.raises(InvalidStatus):
                async with setup.connect(version, station, 1, PASSWORD):
                    pass
            async with setup.connect(version, station, 1, new_password):
                pass
            return new_password
        finally:
            await setup.stop()

    new_password = asyncio.run(scenario())
    after = stored_hash()
    assert after != before and new_password not in str(after)
    assert verify_password(new_password, after) and not verify_password(PASSWORD, after)
    with DbSession(setup.engine) as db:
        assert station_store.rotations_requested(db, "default") == []
    if version == "ocpp1.6":  # 1.6 security whitepaper: AuthorizationKey as 40 hexadecimal digits
        assert len(new_password) == 40 and int(new_password, 16) >= 0
    else:
        assert 16 <= len(new_password) <= 40


def test_offline_transaction_events_replayed_are_billed_once_in_order(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    station = "P1-201"
    info = {"transaction_id": "TX-OFF"}

    def event(seq: int, kind: str, at: str, wh: int | None, offline: bool) -> Any:
        return call201.TransactionEvent(event_type=kind, timestamp=at, seq_no=seq, offline=offline,
                                        trigger_reason="MeterValuePeriodic" if kind == "Updated" else "Authorized",
                                        transaction_info=info,
                                        meter_value=None if wh is None else [energy201(at, wh)])

    async def scenario() -> tuple[list[Any], Any]:
        await setup.start()
        try:
            async with setup.connect("ocpp2.0.1", station, 1) as (cp, _rec):
                await cp.call(event(1, "Started", T0, 1000, False))
            # connection lost; the station queues and, once back, replays in order — re-sending seqNo 2
            # because its first answer was lost, and ending without a final meter value
            async with setup.connect("ocpp2.0.1", station, 1) as (cp, _rec):
                await cp.call(event(2, "Updated", T15, 13000, True))
                await cp.call(event(3, "Updated", T30, 19200, True))
                await cp.call(event(2, "Updated", T15, 13000, True))
                ended = await cp.call(event(4, "Ended", T30, None, True))
                again = await cp.call(event(4, "Ended", T30, None, True))
                await asyncio.sleep(0.2)  # a CostUpdated would have arrived by now
                return cp.cost_updates, (ended.total_cost, again.total_cost)
        finally:
            await setup.stop()

    cost_updates, totals = asyncio.run(scenario())
    assert cost_updates == []  # the cost of queued history is not pushed as a running cost
    assert totals == (5.81, 5.81)
    doc = setup.sink.load_session("default", f"{station}-TX-OFF")
    assert doc is not None and doc["energy_kwh"] == "18.2"
    assert [s["energy_kwh"] for s in doc["meter_samples"]] == ["0", "12", "18.2"]
    assert billed(setup.sink, "default", f"{station}-TX-OFF")["amount_due"] == "5.81"
    assert setup.csms.stats["events.duplicate"] == 2


def test_reconnect_skips_the_kdf_until_the_hash_changes(tmp_path: Path, monkeypatch) -> None:
    """A station reconnecting with the password that verified is not scrypt-checked again (a reconnect
    storm stays cheap); a new stored hash (set-password, rotation) is verified afresh."""
    from connector.ingest.ocpp import security

    setup = Setup(tmp_path)
    calls: list[str] = []
    real = security.verify_password
    monkeypatch.setattr(security, "verify_password", lambda pw, stored: calls.append(pw) or real(pw, stored))
    header = "Basic " + base64.b64encode(f"P1-16:{PASSWORD}".encode()).decode()
    wrong = "Basic " + base64.b64encode(b"P1-16:Wrong-password-0000000").decode()
    assert setup.registry.check("P1-16", header, False, None)[1] is None
    assert setup.registry.check("P1-16", header, False, None)[1] is None
    assert len(calls) == 1
    assert setup.registry.check("P1-16", wrong, False, None)[1] == "wrong station id or password"
    assert len(calls) == 2  # a different password is always checked
    setup.registry.store_password("P1-16", "Another-password-000001")
    assert setup.registry.check("P1-16", header, False, None)[1] == "wrong station id or password"
    assert len(calls) == 3


def test_run_csms_rotates_what_an_operator_requested(tmp_path: Path, capsys) -> None:
    """`evbill stations rotate-password` flags the station; the running CSMS (run_csms, as `evbill csms`
    starts it) sends the new password at its next poll and stores the hash once accepted."""
    from connector.cli import main
    from connector.ingest.ocpp.csms import run_csms
    from tests.ingest.conftest import free_port

    setup = Setup(tmp_path)
    port = free_port()

    async def scenario() -> str:
        server = asyncio.create_task(run_csms(setup.sink, "127.0.0.1", port, CsmsSettings(), setup.registry,
                                              rotation_poll=0.1))
        try:
            for _ in range(100):
                await asyncio.sleep(0.05)
                try:
                    async with Connected(f"ws://127.0.0.1:{port}/ocpp", "ocpp2.0.1", "P1-201", PASSWORD) as (cp, _r):
                        assert main(["stations", "rotate-password", "P1-201", "--database-url",
                                     str(setup.engine.url)]) == 0
                        for _ in range(100):
                            if cp.new_passwords:
                                break
                            await asyncio.sleep(0.05)
                        await asyncio.sleep(0.2)  # the hash is stored after the answer
                        return str(cp.new_passwords[0])
                except OSError:
                    continue  # not listening yet
            raise AssertionError("the CSMS never listened")
        finally:
            server.cancel()

    new_password = asyncio.run(scenario())
    assert json.loads(capsys.readouterr().out)["rotation_requested"] is True
    with DbSession(setup.engine) as db:
        row = station_store.get_station(db, "default", "P1-201")
        assert row is not None and row.rotation_requested_at is None
        assert verify_password(new_password, row.password_hash)
