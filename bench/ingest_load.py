"""Session-end ingestion under concurrent clients with gunicorn on PostgreSQL, while one customer's draft
grows from 0 to ``--sessions`` lines: session ends/s, p50 and p99 per draft-size bucket.

    python bench/ingest_load.py --url postgresql+psycopg://evbill:evbill@127.0.0.1:5432/evbill_bench \
        --sessions 10000 --clients 20 --repeats 3

Targets (issue 15): >= 500 session ends/s, p99 < 100 ms, flat across draft size. Each repeat uses a new
customer (a new draft that starts empty) in the same database; the server is pinned to CPU 0 and the load
generator to CPU 1 when the machine has two (PostgreSQL is not pinned). Figures: per bucket, the min and
median over the repeats.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import TARIFF, Clients, Proc, end_event, median, percentile, pin, request, serve  # noqa: E402


def one_run(server: Proc, port: int, sessions: int, clients: int, bucket: int, run: str
            ) -> dict[int, tuple[float, float, float]]:
    events = [end_event(run, i, f"CUST-{run}") for i in range(sessions)]
    load = Clients([port], clients)
    cpu = server.cpu_seconds()
    took = load.run(events)
    cpu = server.cpu_seconds() - cpu
    if load.errors:
        print(f"  errors: {load.errors}", flush=True)
    figures: dict[int, tuple[float, float, float]] = {}
    for start in range(0, sessions, bucket):
        idx = [i for i in range(start, min(start + bucket, sessions)) if i in load.latency]
        if not idx:
            continue
        done = [load.finished[i] for i in idx]
        span = max(done) - min(done) or 1e-9
        lat = [load.latency[i] * 1000 for i in idx]
        figures[start] = (len(idx) / span, percentile(lat, 0.5), percentile(lat, 0.99))
    print(f"  run {run}: {sessions} session ends in {took:.1f} s = {sessions / took:.0f}/s overall, "
          f"server CPU {cpu / sessions * 1000:.1f} ms per session end", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="PostgreSQL URL (tables are created when missing)")
    parser.add_argument("--sessions", type=int, default=10000, help="session ends per repeat (the draft's final size)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bucket", type=int, default=1000, help="draft-size bucket width (lines)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and load generator apart")
    args = parser.parse_args()
    cpus = None if args.no_pin else {0}
    server, port = serve(args.url, args.workers, args.threads, cpus)
    try:
        if not args.no_pin:
            pin({1})
        status, body = request(port, "POST", "/v1/tariffs", TARIFF)
        if status not in (201, 409):
            raise SystemExit(f"tariff: {status} {body[:200]!r}")
        runs = []
        for r in range(args.repeats):
            runs.append(one_run(server, port, args.sessions, args.clients, args.bucket, f"L{int(time.time())}{r}"))
    finally:
        server.stop()
    print(f"\nsession ends, {args.clients} clients, gunicorn {args.workers}x{args.threads}, PostgreSQL, "
          f"{args.repeats} repeats (min / median):")
    print(f"{'draft lines':>14} {'ends/s':>16} {'p50 ms':>14} {'p99 ms':>14}")
    for start in sorted(runs[0]):
        rows = [run[start] for run in runs if start in run]
        rate, p50, p99 = ([row[k] for row in rows] for k in range(3))
        print(f"{start:>6}-{start + args.bucket - 1:<7} {min(rate):>7.0f} / {median(rate):<6.0f} "
              f"{min(p50):>6.1f} / {median(p50):<5.1f} {min(p99):>6.1f} / {median(p99):<5.1f}".rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
