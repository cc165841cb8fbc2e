"""Cost of one session end as the customer's open draft grows: ms per ``POST /v1/sessions/events`` (end) and the
answer's and ``session.billed`` event's size, with the draft at 0, 1,000 and 10,000 lines (in-process app,
SQLite by default, ``--db-url`` for PostgreSQL). The draft is grown by inserting stored lines (copies of a
billed one); each size then bills ``--sessions`` real session ends, and min/median ms are printed.

Each line also gives the SQL statements (and commits) per session end; ``--profile N`` prints the N functions
with the most own time over all the measured session ends (cProfile, which slows them down).

Usage: python bench/draft_growth_bench.py [--sizes 0,1000,10000] [--sessions 30] [--db-url URL] [--profile 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from connector.api import create_app  # noqa: E402
from connector.billing.invoicing import rows as invoices  # noqa: E402
from connector.storage.tables.billing import InvoiceLineRow, InvoiceRow  # noqa: E402
from connector.storage.tables.outbox import EventRow  # noqa: E402

KEY = {"X-API-Key": "bench-key"}
TARIFF = {"id": "T-EUR", "currency": "EUR",
          "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]}


def end(session_id: str, serial: int = 0) -> dict:
    """A session end; each ``serial`` starts a minute later, so no session duplicates another."""
    start = datetime(2026, 1, 13, 14, tzinfo=UTC) + timedelta(minutes=serial)
    stamp = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    return {"event_id": f"{session_id}:end", "type": "end", "session_id": session_id, "timestamp": stamp["end"],
            "session": {**stamp, "energy_kwh": "10", "tariff_id": "T-EUR", "customer_id": "C-1",
                        "station_id": "ST-1"}}


def grow(engine, invoice_id: str, target: int) -> None:
    with Session(engine) as db:
        have = len(invoices.lines_of(db, "bench", invoice_id))
        first = invoices.lines_of(db, "bench", invoice_id)[0]
        template = {c.name: getattr(first, c.name) for c in InvoiceLineRow.__table__.columns}
        rows = [{**template, "line_id": f"ln_g{target}_{i}", "session_id": f"S-G{target}-{i}", "position": 10**6 + i}
                for i in range(max(0, target - have))]
        for start in range(0, len(rows), 5000):
            db.execute(insert(InvoiceLineRow), rows[start:start + 5000])
        invoices.refresh_totals(db, db.get(InvoiceRow, ("bench", invoice_id)))
        db.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,1000,10000")
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--db-url", default=None)
    parser.add_argument("--profile", type=int, default=0, help="print the N functions with the most own time")
    args = parser.parse_args()
    url = args.db_url or f"sqlite:///{tempfile.mkdtemp()}/draft.db"
    app = create_app({"DATABASE_URL": url, "API_KEYS": {"bench-key": "bench"}, "CREATE_TABLES": True})
    engine = app.extensions["evbill.engine"]
    client = app.test_client()
    client.post("/v1/tariffs", json=TARIFF, headers=KEY)
    client.post("/v1/customers", json={"id": "C-1"}, headers=KEY)
    invoice_id = client.post("/v1/sessions/events", json=end("S-FIRST"), headers=KEY).get_json()["billing"]["invoice_id"]
    print(f"database: {engine.url.get_backend_name()}; {args.sessions} session ends per draft size")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2].split(None, 1)[0].upper()))
    event.listen(engine, "commit", lambda *a: statements.append("COMMIT"))
    profiler = cProfile.Profile() if args.profile else None
    serial = 0
    for size in (int(s) for s in args.sizes.split(",")):
        grow(engine, invoice_id, size)
        times, answer = [], b""
        statements.clear()
        for _ in range(args.sessions):
            serial += 1
            started = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            response = client.post("/v1/sessions/events", json=end(f"S-{serial}", serial), headers=KEY)
            if profiler is not None:
                profiler.disable()
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 202, response.get_data(as_text=True)
            answer = response.get_data()
        per = len([s for s in statements if s != "COMMIT"]) / args.sessions
        commits = statements.count("COMMIT") / args.sessions
        with Session(engine) as db:
            data = db.scalars(select(EventRow.data).where(EventRow.type == "session.billed")
                              .order_by(EventRow.created_at.desc()).limit(1)).one()
            lines = len(invoices.lines_of(db, "bench", invoice_id))
        print(f"draft {lines:>6} lines: min {min(times):6.2f} ms  median {statistics.median(times):6.2f} ms  "
              f"{per:.1f} statements + {commits:.1f} commits  answer {len(answer):,} B  "
              f"session.billed {len(json.dumps(data)):,} B")
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
        print(out.getvalue())


if __name__ == "__main__":
    main()
