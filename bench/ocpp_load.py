"""OCPP load: N simulated charge points (asyncio, the ``ocpp`` package) against the CSMS over websockets.

Run: python3 bench/ocpp_load.py --stations 200 --interval 2 --duration 60 [--url ws://host:port/ocpp]
Without --url the CSMS is started as a separate process (``evbill csms``), writing to a fresh SQLite
database (``--database-url`` to point elsewhere, ``--dry-run`` for the in-memory sink). Half the
stations speak OCPP 1.6J, half 2.0.1 (with CostUpdated pushes). Each station runs sessions of
``--samples`` meter updates sent every ``--interval`` seconds, back to back, until the duration ends.
Prints request/response pairs per second (messages/s) and finished sessions per second, as
the charge points observed them (every figure counts only answered messages).

``--auth basic`` (the default) registers every station with a password (security profile 1) and connects
with HTTP Basic, so the handshake figure includes the registry lookup and the scrypt check; ``--auth none``
starts the CSMS with ``--no-auth`` (the protocol and storage alone).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as CP16
from ocpp.v16 import call as c16
from ocpp.v201 import ChargePoint as CP201
from ocpp.v201 import call as c201
from ocpp.v201 import call_result as r201
from websockets.asyncio.client import connect

TARIFF = {"id": "BENCH", "currency": "EUR", "country_code": "DE", "party_id": "EVB",
          "last_updated": "2026-01-01T00:00:00Z",
          "elements": [{"price_components": [{"type": "ENERGY", "price": "0.40", "vat": 19, "step_size": 1}],
                        "restrictions": {"start_time": "17:00", "end_time": "21:00"}},
                       {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": 19, "step_size": 1}]}]}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Stats:
    def __init__(self) -> None:
        self.messages = 0
        self.sessions = 0
        self.errors = 0
        self.cost_updates = 0
        self.latencies: list[float] = []
        self.handshakes: list[float] = []


class Bench201(CP201):
    stats: Stats

    @on("CostUpdated")
    def on_cost(self, total_cost: float, transaction_id: str, **_: Any) -> Any:
        self.stats.cost_updates += 1
        return r201.CostUpdated()


async def timed(cp: Any, stats: Stats, payload: Any) -> Any:
    t = time.perf_counter()
    result = await cp.call(payload)
    stats.latencies.append(time.perf_counter() - t)
    stats.messages += 1
    return result


async def station(url: str, index: int, args: argparse.Namespace, stats: Stats, stop_at: float) -> None:
    v16 = index % 2 == 0
    name = f"BENCH-{index:04d}"
    headers = {}
    if args.auth == "basic":
        headers["Authorization"] = "Basic " + base64.b64encode(f"{name}:{args.password}".encode()).decode()
    t_open = time.perf_counter()
    async with connect(f"{url}/{name}", subprotocols=["ocpp1.6" if v16 else "ocpp2.0.1"],  # type: ignore[list-item]
                       open_timeout=60, ping_interval=None, additional_headers=headers) as ws:
        stats.handshakes.append(time.perf_counter() - t_open)
        cp: Any = CP16(name, ws, response_timeout=60) if v16 else Bench201(name, ws, response_timeout=60)
        cp.stats = stats
        reader = asyncio.create_task(cp.start())
        try:
            await asyncio.sleep(random.random() * args.interval)  # spread the stations over an interval
            if v16:
                await timed(cp, stats, c16.BootNotification(charge_point_model="Bench", charge_point_vendor="EVB"))
            else:
                await timed(cp, stats, c201.BootNotification(
                    charging_station={"model": "Bench", "vendor_name": "EVB"}, reason="PowerUp"))
            register, seq = 1_000_000 * index, 0
            while time.monotonic() < stop_at:
                if v16:
                    start = await timed(cp, stats, c16.StartTransaction(connector_id=1, id_tag=f"TAG{index}",
                                                                       meter_start=register, timestamp=now()))
                    tx = start.transaction_id
                else:
                    tx, seq = f"TX-{index}-{seq}", seq + 1
                    await timed(cp, stats, c201.TransactionEvent(
                        event_type="Started", timestamp=now(), trigger_reason="Authorized", seq_no=seq,
                        transaction_info={"transaction_id": tx, "charging_state": "Charging"},
                        evse={"id": 1, "connector_id": 1},
                        meter_value=[{"timestamp": now(), "sampled_value": [
                            {"value": register, "measurand": "Energy.Active.Import.Register",
                             "context": "Transaction.Begin"}]}]))
                for _ in range(args.samples):
                    await asyncio.sleep(args.interval)
                    register += random.randint(500, 3000)
                    if v16:
                        await timed(cp, stats, c16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
                            {"timestamp": now(), "sampled_value": [
                                {"value": str(register), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                                {"value": "22000", "measurand": "Power.Active.Import", "unit": "W"}]}]))
                    else:
                        seq += 1
                        await timed(cp, stats, c201.TransactionEvent(
                            event_type="Updated", timestamp=now(), trigger_reason="MeterValuePeriodic", seq_no=seq,
                            transaction_info={"transaction_id": tx}, meter_value=[{"timestamp": now(), "sampled_value": [
                                {"value": register, "measurand": "Energy.Active.Import.Register"},
                                {"value": 22.0, "measurand": "Power.Active.Import",
                                 "unit_of_measure": {"unit": "kW"}}]}]))
                if v16:
                    await timed(cp, stats, c16.StopTransaction(meter_stop=register, timestamp=now(), transaction_id=tx))
                else:
                    seq += 1
                    await timed(cp, stats, c201.TransactionEvent(
                        event_type="Ended", timestamp=now(), trigger_reason="EVDeparted", seq_no=seq,
                        transaction_info={"transaction_id": tx, "stopped_reason": "EVDisconnected"},
                        meter_value=[{"timestamp": now(), "sampled_value": [
                            {"value": register, "measurand": "Energy.Active.Import.Register",
                             "context": "Transaction.End"}]}]))
                stats.sessions += 1
        except Exception as exc:  # noqa: BLE001 - count, keep the other stations going
            stats.errors += 1
            print(f"{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            reader.cancel()


def register_stations(database_url: str, count: int, password: str) -> None:
    """Profile 1 stations BENCH-0000.. in the CSMS's registry, each with its own salted hash (as in
    production: no two stations share a stored hash, so each first handshake pays one scrypt)."""
    from sqlalchemy.orm import Session as DbSession

    from connector.billing.intake import ensure_schema
    from connector.security.passwords import hash_password
    from connector.storage import stations
    from connector.storage.db import make_engine

    engine = make_engine(database_url)
    ensure_schema(engine)
    with DbSession(engine) as db:
        for index in range(count):
            name = f"BENCH-{index:04d}"
            if stations.get_station(db, "default", name) is None:
                stations.add_station(db, "default", name, 1, hash_password(password))
        db.commit()
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def csms_process(args: argparse.Namespace):
    if args.url:
        yield args.url
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "connector.cli", "csms", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(args.workers), "--cost-update-interval", str(args.cost_update_interval)]
        tariff = Path(tmp) / "tariff.json"
        tariff.write_text(json.dumps(TARIFF), encoding="utf-8")
        database = args.database_url or f"sqlite:///{tmp}/bench.db"
        if args.dry_run:
            cmd += ["--dry-run-tariff", str(tariff)]
        else:
            cmd += ["--tariff", str(tariff)]
        if args.auth == "none":
            cmd += ["--no-auth"]
        else:
            register_stations(database, args.stations, args.password)
        if not args.dry_run or args.auth == "basic":
            cmd += ["--database-url", database]
        log = open(Path(tmp) / "csms.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)
            yield f"ws://127.0.0.1:{port}/ocpp"
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()
            if args.show_log:
                print((Path(tmp) / "csms.log").read_text()[-3000:], file=sys.stderr)


async def run(args: argparse.Namespace, url: str) -> Stats:
    stats = Stats()
    stop_at = time.monotonic() + args.duration
    await asyncio.gather(*(station(url, i, args, stats, stop_at) for i in range(args.stations)))
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between MeterValues per station")
    parser.add_argument("--samples", type=int, default=5, help="meter updates per session")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of new sessions")
    parser.add_argument("--url", help="an already running CSMS (ws://host:port/path)")
    parser.add_argument("--database-url", help="for the started CSMS (default: a fresh SQLite file)")
    parser.add_argument("--workers", type=int, default=1, help="CSMS storage threads (1 for SQLite)")
    parser.add_argument("--cost-update-interval", type=float, default=10.0,
                        help="CSMS CostUpdated period per 2.0.1 transaction (seconds)")
    parser.add_argument("--dry-run", action="store_true", help="CSMS with the in-memory sink (no database)")
    parser.add_argument("--show-log", action="store_true")
    parser.add_argument("--auth", choices=["basic", "none"], default="basic",
                        help="basic: stations registered with a password (profile 1); none: CSMS --no-auth")
    parser.add_argument("--password", default="Bench-station-password-01", help="the stations' password")
    args = parser.parse_args()
    with csms_process(args) as url:
        t0 = time.perf_counter()
        stats = asyncio.run(run(args, url))
        elapsed = time.perf_counter() - t0
    lat = sorted(stats.latencies) or [0.0]
    print(f"stations={args.stations} interval={args.interval}s samples/session={args.samples} "
          f"elapsed={elapsed:.1f}s sink={'memory' if args.dry_run else 'database'}")
    print(f"messages: {stats.messages} ({stats.messages / elapsed:.1f}/s)  sessions: {stats.sessions} "
          f"({stats.sessions / elapsed:.2f}/s)  CostUpdated received: {stats.cost_updates}  errors: {stats.errors}")
    print(f"latency ms: median {statistics.median(lat) * 1000:.1f}  p95 {lat[int(len(lat) * 0.95)] * 1000:.1f}  "
          f"max {lat[-1] * 1000:.1f}")
    shakes = sorted(stats.handshakes) or [0.0]
    print(f"handshake ms ({args.auth} auth): median {statistics.median(shakes) * 1000:.1f}  "
          f"p95 {shakes[int(len(shakes) * 0.95)] * 1000:.1f}  max {shakes[-1] * 1000:.1f}")
    offered = args.stations / args.interval
    print(f"offered meter load ≈ {offered:.0f} MeterValues/s; sustained = answered messages/s above")


if __name__ == "__main__":
    main()
