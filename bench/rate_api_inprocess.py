"""/v1/rate in one process (Flask test client, temporary SQLite): the server's own cost per request,
with no HTTP client competing for the cores. The HTTP figure comes from bench/rate_api_wrk.sh.

Run: python bench/rate_api_inprocess.py [--requests 2000] [--repeats 5]
Prints req/s (min / median over repeats, CPU time) and p50/p99 latency of the last repeat.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.api import create_app  # noqa: E402

TARIFF = {"id": "TOU", "currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": "0.55", "vat": "19", "step_size": 1}],
     "restrictions": {"start_time": "17:00", "end_time": "21:00"}},
    {"price_components": [{"type": "ENERGY", "price": "0.39", "vat": "19", "step_size": 1},
                          {"type": "TIME", "price": "1.20", "vat": "19", "step_size": 60}]}]}
BODY = {"tariff_id": "TOU", "session": {"id": "S-1", "start": "2026-01-13T16:10:00Z", "end": "2026-01-13T18:40:00Z",
                                        "energy_kwh": "31.5", "time_zone": "Europe/Berlin"}}
HEADERS = {"X-API-Key": "bench-key"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "API_KEYS": {"bench-key": "bench"}})
        client = app.test_client()
        assert client.post("/v1/tariffs", json=TARIFF, headers=HEADERS).status_code == 201
        assert client.post("/v1/rate", json=BODY, headers=HEADERS).status_code == 200
        rates, latencies = [], []
        for _ in range(args.repeats):
            latencies = []
            t0 = time.process_time()
            for _ in range(args.requests):
                w = time.perf_counter()
                client.post("/v1/rate", json=BODY, headers=HEADERS)
                latencies.append(time.perf_counter() - w)
            rates.append(args.requests / (time.process_time() - t0))
        latencies.sort()
        p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
        print(f"/v1/rate in-process: {min(rates):,.0f} / {statistics.median(rates):,.0f} req/s (min / median of "
              f"{args.repeats}), p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms (wall, last repeat)")


if __name__ == "__main__":
    main()
