"""``evbill csms`` as a process: a 2.0.1 station runs a transaction against it over 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from ocpp.v201 import call as call201

from connector.cli import main
from tests.ingest.conftest import TOU_TARIFF, free_port
from tests.ingest.ocpp_clients import Connected
from tests.ingest.test_ocpp import T0, T15, T30, energy201


def test_evbill_csms_serves_ocpp(tmp_path: Path) -> None:
    tariff = tmp_path / "tou.json"
    tariff.write_text(json.dumps(TOU_TARIFF), encoding="utf-8")
    port = free_port()
    log = tmp_path / "csms.log"
    proc = subprocess.Popen([sys.executable, "-m", "connector.cli", "csms", "--host", "127.0.0.1", "--port", str(port),
                             "--dry-run-tariff", str(tariff), "--cost-update-interval", "0", "--no-auth"],
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)

        async def scenario() -> float:
            async with Connected(f"ws://127.0.0.1:{port}/ocpp", "ocpp2.0.1", "CMD-1") as (cp, _rec):
                info = {"transaction_id": "T1"}
                await cp.call(call201.TransactionEvent(event_type="Started", timestamp=T0, trigger_reason="Authorized",
                                                       seq_no=1, transaction_info=info,
                                                       meter_value=[energy201(T0, 1000, "Transaction.Begin")]))
                await cp.call(call201.TransactionEvent(event_type="Updated", timestamp=T15, seq_no=2,
                                                       trigger_reason="MeterValuePeriodic", transaction_info=info,
                                                       meter_value=[energy201(T15, 13000)]))
                ended = await cp.call(call201.TransactionEvent(event_type="Ended", timestamp=T30, seq_no=3,
                                                               trigger_reason="EVDeparted", transaction_info=info,
                                                               meter_value=[energy201(T30, 19200)]))
                await asyncio.wait_for(cp.cost_event.wait(), 10)
                assert cp.cost_updates[0]["total_cost"] == 2.86
                return ended.total_cost

        assert asyncio.run(scenario()) == 5.81
    finally:
        proc.terminate()
        proc.wait(10)
    assert "CSMS listening on ws://127.0.0.1" in log.read_text()


def test_evbill_csms_rejects_bad_arguments(tmp_path: Path, capsys) -> None:
    assert main(["csms", "--port", "70000"]) == 2
    assert "port: 70000 is not a TCP port" in capsys.readouterr().err
    bad = tmp_path / "stations.json"
    bad.write_text("[1]", encoding="utf-8")
    assert main(["csms", "--stations", str(bad)]) == 2


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)


def test_evbill_stations_and_csms_over_tls(tmp_path: Path, capsys, monkeypatch) -> None:
    """`evbill stations add` registers a profile 2 station in the database; `evbill csms --tls-port` lets it in
    with its password only, over TLS; list never shows the hash; bad input exits 2 with one line."""
    import io

    import pytest
    from websockets.exceptions import InvalidStatus

    from tests.ingest.pki import Pki

    db = f"sqlite:///{tmp_path}/stations.db"
    monkeypatch.setattr("sys.stdin", io.StringIO("Cli-station-password-01\n"))
    assert main(["stations", "add", "CS-CLI", "--profile", "2", "--password-stdin", "--database-url", db]) == 0
    assert json.loads(capsys.readouterr().out) == {"station_id": "CS-CLI", "tenant": "default", "security_profile": 2}
    assert main(["stations", "add", "CS-GEN", "--profile", "1", "--hex", "--currency", "EUR", "--database-url", db]) == 0
    generated = json.loads(capsys.readouterr().out)
    assert len(generated["password"]) == 40 and generated["session_fields"] == {"currency": "EUR"}
    assert main(["stations", "list", "--database-url", db]) == 0
    listed = capsys.readouterr().out
    assert [s["station_id"] for s in json.loads(listed)] == ["CS-CLI", "CS-GEN"]
    assert "scrypt" not in listed and generated["password"] not in listed
    assert main(["stations", "add", "CS-CLI", "--profile", "3", "--database-url", db]) == 2
    assert "station_id: 'CS-CLI' is already registered" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["stations", "set-password", "CS-CLI", "--password-stdin", "--database-url", db]) == 2
    assert "password: must be 16 to 40 characters" in capsys.readouterr().err
    assert main(["stations", "rotate-password", "NOPE", "--database-url", db]) == 2
    assert main(["stations", "add", "bad:id", "--profile", "1", "--database-url", db]) == 2
    assert main(["stations", "remove", "CS-GEN", "--database-url", db]) == 0
    assert main(["stations", "remove", "CS-GEN", "--database-url", db]) == 2
    assert "station_id: 'CS-GEN' is not registered" in capsys.readouterr().err

    pki = Pki(tmp_path)
    tariff = tmp_path / "tou.json"
    tariff.write_text(json.dumps(TOU_TARIFF), encoding="utf-8")
    port, tls_port = free_port(), free_port()
    log = tmp_path / "csms.log"
    proc = subprocess.Popen([sys.executable, "-m", "connector.cli", "csms", "--port", str(port), "--tls-port",
                             str(tls_port), "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
                             "--database-url", db, "--dry-run-tariff", str(tariff), "--cost-update-interval", "0"],
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        _wait_for_port(tls_port)
        url = f"wss://127.0.0.1:{tls_port}/ocpp"

        async def scenario() -> float:
            for password in ("Wrong-password-000000", None):
                with pytest.raises(InvalidStatus):
                    async with Connected(url, "ocpp2.0.1", "CS-CLI", password, pki.client_context()):
                        pass
            with pytest.raises(InvalidStatus):  # profile 2 never on plain ws
                async with Connected(f"ws://127.0.0.1:{port}/ocpp", "ocpp2.0.1", "CS-CLI", "Cli-station-password-01"):
                    pass
            async with Connected(url, "ocpp2.0.1", "CS-CLI", "Cli-station-password-01", pki.client_context()) as (cp, _):
                info = {"transaction_id": "T1"}
                await cp.call(call201.TransactionEvent(event_type="Started", timestamp=T0, trigger_reason="Authorized",
                                                       seq_no=1, transaction_info=info,
                                                       meter_value=[energy201(T0, 1000, "Transaction.Begin")]))
                await cp.call(call201.TransactionEvent(event_type="Updated", timestamp=T15, seq_no=2,
                                                       trigger_reason="MeterValuePeriodic", transaction_info=info,
                                                       meter_value=[energy201(T15, 13000)]))
                ended = await cp.call(call201.TransactionEvent(event_type="Ended", timestamp=T30, seq_no=3,
                                                               trigger_reason="EVDeparted", transaction_info=info,
                                                               meter_value=[energy201(T30, 19200)]))
                return float(ended.total_cost)

        assert asyncio.run(scenario()) == 5.81
    finally:
        proc.terminate()
        proc.wait(10)
    text = log.read_text()
    assert f"CSMS listening on wss://127.0.0.1:{tls_port}" in text
    assert text.count("refused connection as CS-CLI") == 3
