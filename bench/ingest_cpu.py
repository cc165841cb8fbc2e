"""CPU and SQL statements of one session end (``POST /v1/sessions/events``, type ``end``), in-process through
the app's test client: what one API worker spends per session end, without HTTP or other clients.

    python bench/ingest_cpu.py --url postgresql+psycopg://evbill:evbill@127.0.0.1:5432/evbill_cpu \
        --sessions 500 --batches 5 [--statements] [--profile 30]

Sessions as ``bench/ingest_load.py`` sends them (one customer's draft, a new session per end). CPU is this
process's CPU time (``time.process_time``: the database's own work is not in it), per session end, as min and
median over ``--batches`` batches; statements are counted on the engine. ``--profile N`` runs one more batch
under cProfile, timed by CPU, and prints the N functions with the most cumulative time.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadgen import TARIFF, end_event  # noqa: E402
from sqlalchemy import event  # noqa: E402

from connector.api import create_app  # noqa: E402

KEY = {"X-API-Key": "bench-key"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--sessions", type=int, default=500, help="measured session ends (after 50 warm-up ones)")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--statements", action="store_true", help="list the statements of one session end")
    parser.add_argument("--profile", type=int, default=0, help="print the N functions with the most CPU")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/ingest_cpu.db"
    app = create_app({"DATABASE_URL": url, "API_KEYS": {KEY["X-API-Key"]: "bench"}, "CREATE_TABLES": True})
    client = app.test_client()
    client.post("/v1/tariffs", json=TARIFF, headers=KEY)
    run = f"P{int(time.time())}"
    events = iter(end_event(run, i, f"CUST-{run}") for i in range(args.sessions + 50 + args.sessions // args.batches))

    def send(count: int) -> None:
        for _ in range(count):
            r = client.post("/v1/sessions/events", json=next(events), headers=KEY)
            assert r.status_code == 202, r.get_data(as_text=True)

    send(50)  # warm-up: compiled statements, prepared statements, the draft exists
    seen: collections.Counter[str] = collections.Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen[" ".join(statement.split())[:100]] += 1

    engine = app.extensions["evbill.engine"]
    event.listen(engine, "before_cursor_execute", count)
    per_batch = args.sessions // args.batches
    cpu = []
    for _ in range(args.batches):
        started = time.process_time()
        send(per_batch)
        cpu.append((time.process_time() - started) / per_batch * 1000)
    event.remove(engine, "before_cursor_execute", count)
    done = per_batch * args.batches
    print(f"{done} session ends, {engine.dialect.name}: CPU ms per session end min {min(cpu):.2f} / median "
          f"{statistics.median(cpu):.2f}; SQL statements per session end {sum(seen.values()) / done:.1f}")
    if args.statements:
        for statement, n in seen.most_common():
            print(f"  {n / done:4.1f}  {statement}")
    if args.profile:
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        send(per_batch)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
