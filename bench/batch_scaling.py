"""Batch rating on 1 and 2 processes (EVBILL_RATING_PROCESSES): the scaling of the rating pool.

Run: python bench/batch_scaling.py [--sessions 10000] [--repeats 5] [--processes 1,2]
Three paths, each timed on the wall clock (the pool's work is in other processes), after one untimed run
that starts the pool: (a) the JSON batch function of /v1/rate/batch, (b) POST /v1/rate/batch through the
Flask app in this process (its JSON parsing and encoding stay in the API worker), (c) the CSV batch of
``evbill rate --sessions``. Prints sessions/s as min / median of the repeats per process count, the
scaling ratio of the medians against 1 process, the load average and the CPU count, and the calling
process's own CPU time against the 1-process run: the serial share that bounds the scaling (Amdahl), a
figure other work on a shared machine does not distort the way it distorts the wall clock. Raw sessions with a
4-element time-of-use tariff, a quarter of them with an idle tail.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.api import create_app  # noqa: E402
from connector.models import Tariff  # noqa: E402
from connector.rating import RatingOptions  # noqa: E402
from connector.spreadsheets import batch_pool  # noqa: E402
from connector.spreadsheets.batch_csv import rate_csv  # noqa: E402
from connector.spreadsheets.batch_json import rate_items  # noqa: E402
from connector.spreadsheets.batch_pool import RatingJob  # noqa: E402

TOU: dict[str, Any] = {"id": "TOU4", "currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": "0.55", "vat": 19, "step_size": 1}],
     "restrictions": {"start_time": "17:00", "end_time": "21:00",
                      "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
    {"price_components": [{"type": "ENERGY", "price": "0.29", "vat": 19, "step_size": 1}],
     "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
    {"price_components": [{"type": "PARKING_TIME", "price": "6.00", "vat": 19, "step_size": 60}],
     "restrictions": {"x_min_idle_duration": 900}},
    {"price_components": [{"type": "ENERGY", "price": "0.39", "vat": 19, "step_size": 1},
                          {"type": "FLAT", "price": "0.50", "vat": 19, "step_size": 1}]}]}
KEY = {"X-API-Key": "bench-key"}


def sessions(n: int) -> list[dict[str, str]]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        start = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 60 * 24 * 90))
        charge = timedelta(minutes=rng.randrange(10, 480))
        row = {"session_id": f"S{i}", "start": start.isoformat(), "energy_kwh": f"{rng.randrange(1, 80000) / 1000}",
               "time_zone": "Europe/Berlin"}
        if rng.random() < 0.25:
            row["charging_ended_at"] = (start + charge).isoformat()
            charge += timedelta(minutes=rng.randrange(5, 120))
        row["end"] = (start + charge).isoformat()
        out.append(row)
    return out


def timed(run: Callable[[], object], n: int, repeats: int) -> tuple[list[float], float]:
    """Sessions/s of each repeat (wall clock), and the calling process's CPU seconds of the fastest."""
    run()  # untimed: starts the pool, compiles the tariff
    rates, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        rates.append(n / (time.perf_counter() - t0))
        cpu.append(time.process_time() - c0)
    return rates, min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--processes", default="1,2")
    args = parser.parse_args()
    counts = [int(p) for p in args.processes.split(",")]
    rows = sessions(args.sessions)
    json_items = [(i, {**{k: v for k, v in r.items() if k != "session_id"}, "id": r["session_id"]})
                  for i, r in enumerate(rows)]
    header = ["session_id", "start", "end", "energy_kwh", "time_zone", "charging_ended_at"]
    csv_text = ",".join(header) + "\n" + "".join(",".join(r.get(h, "") for h in header) + "\n" for r in rows)
    job = RatingJob([Tariff.model_validate(TOU)], None, RatingOptions())
    print(f"{args.sessions} raw sessions, 4-element time-of-use tariff; {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        figures: dict[str, dict[int, list[float]]] = {}
        own_cpu: dict[str, dict[int, float]] = {}
        for processes in counts:
            app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench{processes}.db", "API_KEYS": {"bench-key": "b"},
                              "RATING_PROCESSES": processes, "RATING_POOL_MIN_SESSIONS": 200})
            client = app.test_client()
            assert client.post("/v1/tariffs", json=TOU, headers=KEY).status_code == 201
            body = {"tariff_id": "TOU4", "sessions": [item for _, item in json_items]}

            def api(c: Any = client, b: dict[str, Any] = body) -> None:
                response = c.post("/v1/rate/batch", json=b, headers=KEY)
                assert response.status_code == 200, response.text

            def csv_batch(p: int = processes) -> None:
                ok, bad = rate_csv(io.StringIO(csv_text, newline=""), io.StringIO(), job.tariffs, job.options,
                                   processes=p, min_sessions=200)
                assert bad == 0, bad

            paths: dict[str, Callable[[], object]] = {
                "(a) JSON batch function": lambda p=processes: batch_pool.rate_batch(
                    rate_items, job, json_items, processes=p, min_sessions=200),
                "(b) POST /v1/rate/batch in-process": api,
                "(c) CSV batch (evbill rate --sessions)": csv_batch,
            }
            for name, run in paths.items():
                figures.setdefault(name, {})[processes], own_cpu.setdefault(name, {})[processes] = timed(
                    run, args.sessions, args.repeats)
            batch_pool.shutdown()
        for name, by_count in figures.items():
            base = statistics.median(by_count[counts[0]])
            parts = [f"{p} proc {min(r):,.0f} / {statistics.median(r):,.0f}" for p, r in by_count.items()]
            ratio = " ".join(f"x{statistics.median(r) / base:.2f}" for p, r in by_count.items() if p != counts[0])
            print(f"{name}: {'; '.join(parts)} sessions/s (min / median of {args.repeats}); "
                  f"scaling {counts[0]} -> {','.join(str(c) for c in counts[1:])}: {ratio}")
            serial = own_cpu[name][counts[0]]
            shares = ", ".join(f"{p} proc {cpu / serial:.0%}" for p, cpu in own_cpu[name].items() if p != counts[0])
            print(f"    calling process CPU against {counts[0]} proc (the part that does not scale; load-independent):"
                  f" {shares}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
