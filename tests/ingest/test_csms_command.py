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
                             "--dry-run-tariff", str(tariff), "--cost-update-interval", "0"],
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
