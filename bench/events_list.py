"""Time ``GET /v1/events``'s query (``connector.events.history.list_events``) on N stored events of one tenant.

Why: the Zapier triggers for interim costs and re-ratings sample the newest 3 events of one type. Without an
index on the type, a rare type (re-ratings) means walking every newer event of the tenant. The events are
generated set-based (one ``INSERT ... SELECT``): one in ``--rare-every`` is ``session.rerated``, one in 10
``session.interim``, the rest ``session.billed``; one per second, newest now. Then each query (the rare type,
the frequent type, no type) is timed ``--repeats`` times (min / median of the mean over ``--calls`` calls), with
the index ``ix_events_tenant_type_created`` and without it (dropped in a transaction that is rolled back). Point
``--pg-url`` at a scratch database: the drop holds the events table's lock while it is measured.

Usage: python bench/events_list.py [--events 1000000] [--rare-every 1000000] [--databases sqlite,postgresql]
       [--repeats 3] [--calls 5] [--pg-url URL (default $EVBILL_BENCH_PG_URL or $EVBILL_TEST_PG_URL)]
Generation time is printed apart and not counted. A database that cannot be reached is skipped with a line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Connection, Engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from connector.events.history import list_events  # noqa: E402
from connector.storage.db import make_engine  # noqa: E402
from connector.storage.tables import all_metadata  # noqa: E402

TENANT = "bench"
INDEX = "ix_events_tenant_type_created"
KINDS = ("session.rerated", "session.interim", None)


def generate(engine: Engine, events: int, rare_every: int) -> None:
    """``events`` rows, newest first in time as ``g`` grows, in one statement."""
    kind = (f"CASE WHEN g % {rare_every} = 0 THEN 'session.rerated' WHEN g % 10 = 0 THEN 'session.interim' "
            "ELSE 'session.billed' END")
    data = '{"session": {"id": "S-1"}, "rating": {"currency": "EUR"}}'
    with engine.begin() as db:
        db.execute(text("DELETE FROM events WHERE tenant_id = :tenant"), {"tenant": TENANT})
        if engine.dialect.name == "postgresql":
            db.execute(text(f"INSERT INTO events (id, tenant_id, type, created_at, data, fanned_out) "
                            f"SELECT 'evt_' || md5(g::text), :tenant, {kind}, now() - make_interval(secs => g), "
                            f"CAST(:data AS json), true FROM generate_series(1, :n) AS s(g)"),
                       {"tenant": TENANT, "data": data, "n": events})
            db.execute(text("ANALYZE events"))
        else:
            db.execute(text(f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) "
                            f"INSERT INTO events (id, tenant_id, type, created_at, data, fanned_out) "
                            f"SELECT printf('evt_%032x', g), :tenant, {kind}, "
                            f"datetime('now', '-' || g || ' seconds'), :data, 1 FROM s"),
                       {"tenant": TENANT, "data": data, "n": events})
            db.execute(text("ANALYZE"))


def timed(bind: Engine | Connection, kind: str | None, repeats: int, calls: int) -> tuple[float, float, int]:
    """(min, median) ms per call of the newest 4 (Zapier's 3 plus the next-page probe); how many came back."""
    runs = []
    with Session(bind) as db:
        found = len(list_events(db, TENANT, type=kind, limit=4))  # warm
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(calls):
                list_events(db, TENANT, type=kind, limit=4)
            runs.append((time.perf_counter() - start) / calls * 1000)
    return min(runs), statistics.median(runs), found


def bench(name: str, engine: Engine, args: argparse.Namespace) -> None:
    all_metadata().create_all(engine)
    start = time.perf_counter()
    generate(engine, args.events, args.rare_every)
    print(f"{name}: generated {args.events:,} events in {time.perf_counter() - start:.1f} s "
          f"(one session.rerated in {args.rare_every:,})")
    for kind in KINDS:
        report(name, "with index", kind, timed(engine, kind, args.repeats, args.calls))
    # without the index: dropped inside a transaction that is rolled back, so the table keeps it
    with engine.connect() as conn:
        conn.begin()
        conn.execute(text(f"DROP INDEX {INDEX}"))
        for kind in KINDS:
            report(name, "without index", kind, timed(conn, kind, args.repeats, args.calls))
        conn.rollback()
    with engine.begin() as db:
        db.execute(text("DELETE FROM events WHERE tenant_id = :tenant"), {"tenant": TENANT})


def report(name: str, label: str, kind: str | None, figures: tuple[float, float, int]) -> None:
    low, mid, found = figures
    print(f"{name} {label:<13} type={kind or '(any)':<16} {found} found: "
          f"min {low:.2f} / median {mid:.2f} ms per call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rare-every", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--pg-url", default=os.environ.get("EVBILL_BENCH_PG_URL") or os.environ.get(
        "EVBILL_TEST_PG_URL", "postgresql+psycopg://evbill:evbill@127.0.0.1:5432/evbill_test"))
    args = parser.parse_args()
    for name in args.databases.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                engine = make_engine(f"sqlite:///{tmp}/events.db")
                bench(name, engine, args)
                engine.dispose()
        elif name == "postgresql":
            engine = make_engine(args.pg_url)
            try:
                engine.connect().close()
            except Exception as exc:  # noqa: BLE001 - unreachable database: skipped with a line
                print(f"postgresql: skipped ({type(exc).__name__})")
                continue
            bench(name, engine, args)
            engine.dispose()
        else:
            parser.error(f"--databases: unknown {name!r} (sqlite, postgresql)")


if __name__ == "__main__":
    main()
