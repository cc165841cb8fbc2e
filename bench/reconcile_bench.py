"""Time reconciliation of N stored sessions (default 1,000,000) on SQLite and PostgreSQL.

Generates a month (January 2026, Europe/Berlin) of ended, billed sessions over 10 stations, 2 tariffs
(energy only; energy + time) and 2 customer classes, one invoice line each, invoices of 1,000 lines (80 %
paid). Rows are generated set-based (one ``INSERT ... SELECT`` per table over a number series), with prices
from the rating core only: each distinct (tariff, class, minutes, energy) is rated once with ``rate()`` into a
price table the insert joins. A sample of rows is checked against ``session_facts.derive``. Then:

- ``stored``: the month's stored reconciliation (one SQL aggregate), ``--repeats`` times: min / median;
- ``rerate``: one day (``--rerate-day``) re-rated with the rating core, with 1 and 2 processes (``--processes``):
  min / median each, and the scaling ratio.

Usage: python bench/reconcile_bench.py [--sessions 1000000] [--databases sqlite,postgresql] [--repeats 3]
       [--pg-url URL (default $EVBILL_BENCH_PG_URL or $EVBILL_TEST_PG_URL)] [--rerate-day 2026-01-15]
       [--processes 1,2] [--db FILE: keep the SQLite file and reuse it]
Generation time is printed apart and not counted. A database that cannot be reached is skipped with a line.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from connector.billing.reconciliation.run import reconcile  # noqa: E402
from connector.models import Customer, Session, Tariff  # noqa: E402
from connector.money import to_minor  # noqa: E402
from connector.rating import rate  # noqa: E402
from connector.storage import repo  # noqa: E402
from connector.storage.db import make_engine  # noqa: E402
from connector.storage.session_facts import derive  # noqa: E402
from connector.storage.tables import all_metadata  # noqa: E402
from connector.storage.tables.core import CustomerRow, SessionRow  # noqa: E402

TENANT = "bench"
TARIFFS = {
    "T-A": {"id": "T-A", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]},
    "T-B": {"id": "T-B", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "19", "step_size": 1},
                              {"type": "TIME", "price": "1.20", "vat": "19", "step_size": 60}]}]},
}
CUSTOMERS = {"C-PUB": "public", "C-FLEET": "fleet"}
MINUTES = 8  # minutes = 10 + 30 * k, k < MINUTES
TENTHS = 790  # energy = (10 + j) / 10 kWh, j < TENTHS

# per session i: the start second in January (Berlin-local January for any offset), duration, energy, ...
FIELDS = """
    {i} AS i, 2 + ({i} * 2654435761) % (30 * 86400 - 2) AS sec, 10 + 30 * (({i} * 40503) % {minutes}) AS minutes,
    10 + ({i} * 48271) % {tenths} AS tenths,
    CASE WHEN {i} % 3 = 0 THEN 'T-B' ELSE 'T-A' END AS tariff,
    CASE WHEN {i} % 4 = 0 THEN 'C-FLEET' ELSE 'C-PUB' END AS customer,
    {station} AS station, {sid} AS sid, {invoice} AS invoice
"""
ENERGY = ("CASE WHEN b.tenths % 10 = 0 THEN CAST(b.tenths / 10 AS TEXT) "
          "ELSE CAST(b.tenths / 10 AS TEXT) || '.' || CAST(b.tenths % 10 AS TEXT) END")

DIALECT: dict[str, dict[str, str]] = {
    "sqlite": {
        "series": "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last}) ",
        "from": "n",
        "station": "printf('ST-%02d', i % 10)", "sid": "printf('S%08d', i)", "invoice": "printf('INV-%06d', i / 1000)",
        "line": "printf('L%08d', b.i)",
        "start_at": "datetime('2026-01-01', '+' || b.sec || ' seconds') || '.000000'",
        "end_at": "datetime('2026-01-01', '+' || (b.sec + 60 * b.minutes) || ' seconds') || '.000000'",
        "start": "strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-01', '+' || b.sec || ' seconds')",
        "end": "strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-01', '+' || (b.sec + 60 * b.minutes) || ' seconds')",
        "json": "json_object", "now": "'2026-02-01 00:00:00.000000'", "false": "0",
    },
    "postgresql": {
        "series": "", "from": "generate_series(CAST(0 AS BIGINT), {last}) AS n(i)",
        "station": "'ST-' || lpad((i % 10)::text, 2, '0')", "sid": "'S' || lpad(i::text, 8, '0')",
        "invoice": "'INV-' || lpad((i / 1000)::text, 6, '0')", "line": "'L' || lpad(b.i::text, 8, '0')",
        "start_at": "timestamptz '2026-01-01 00:00:00+00' + b.sec * interval '1 second'",
        "end_at": "timestamptz '2026-01-01 00:00:00+00' + (b.sec + 60 * b.minutes) * interval '1 second'",
        "start": "to_char((timestamptz '2026-01-01 00:00:00+00' + b.sec * interval '1 second') AT TIME ZONE 'UTC', "
                 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        "end": "to_char((timestamptz '2026-01-01 00:00:00+00' + (b.sec + 60 * b.minutes) * interval '1 second') "
               "AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        "json": "json_build_object", "now": "timestamptz '2026-02-01 00:00:00+00'", "false": "false",
    },
}


def price_table() -> list[dict[str, Any]]:
    """Every distinct (tariff, customer, minutes, energy) priced by the rating core."""
    from datetime import UTC, datetime, timedelta

    tariffs = {k: Tariff.model_validate(v) for k, v in TARIFFS.items()}
    customers = {k: Customer(id=k, customer_class=v) for k, v in CUSTOMERS.items()}
    start = datetime(2026, 1, 10, 12, tzinfo=UTC)
    rows = []
    for tariff_id, tariff in tariffs.items():
        for customer_id, customer in customers.items():
            for k in range(MINUTES):
                minutes = 10 + 30 * k
                for j in range(TENTHS):
                    if tariff_id == "T-A" and k:  # energy only: the duration is no input
                        rows.append(dict(rows[-TENTHS], minutes=minutes))
                        continue
                    energy = str(Decimal(10 + j) / 10)
                    session = Session(id="x", start=start, end=start + timedelta(minutes=minutes), energy_kwh=energy,
                                      time_zone="Europe/Berlin", tariff_id=tariff_id)
                    result = rate(session, [tariff], customer)
                    inv = result.invoice
                    rows.append({"tariff": tariff_id, "customer": customer_id, "minutes": minutes, "tenths": 10 + j,
                                 "klass": result.customer_class, "due": str(inv.amount_due),
                                 "due_minor": to_minor(inv.amount_due, "EUR"), "net": to_minor(inv.net_total, "EUR"),
                                 "tax": to_minor(inv.tax_total, "EUR")})
    return rows


def generate(engine: Engine, count: int) -> None:
    all_metadata().create_all(engine)
    d = DIALECT[engine.dialect.name]
    with sessionmaker(engine)() as db:
        repo.ensure_tenant(db, TENANT)
        for tariff in TARIFFS.values():
            repo.create_tariff(db, TENANT, Tariff.model_validate(tariff))
        for customer_id, klass in CUSTOMERS.items():
            db.add(CustomerRow(tenant_id=TENANT, customer_id=customer_id, customer_class=klass))
        db.commit()
    prices = price_table()
    fields = FIELDS.format(i="i", minutes=MINUTES, tenths=TENTHS, station=d["station"], sid=d["sid"],
                           invoice=d["invoice"])
    series = d["series"].format(last=count - 1)
    base = f"base AS (SELECT {fields} FROM {d['from'].format(last=count - 1)})"
    with_base = f"{series}, {base} " if series else f"WITH {base} "
    j = d["json"]
    energy = ENERGY
    sessions = f"""
        INSERT INTO sessions (tenant_id, session_id, status, document, rating, station_id, customer_id, tariff_id,
            start_at, end_at, created_at, updated_at, time_zone, energy_key, rated_energy, due_minor, rated_currency,
            rated_class, recon_kind)
        {with_base}
        SELECT '{TENANT}', b.sid, 'billed',
            {j}('id', b.sid, 'station_id', b.station, 'tariff_id', b.tariff, 'customer_id', b.customer,
                'start', {d['start']}, 'end', {d['end']}, 'energy_kwh', {energy}, 'time_zone', 'Europe/Berlin',
                'status', 'billed'),
            {j}('currency', 'EUR', 'customer_class', p.klass, 'total_energy', {energy},
                'invoice', {j}('amount_due', p.due)),
            b.station, b.customer, b.tariff, {d['start_at']}, {d['end_at']}, {d['now']}, {d['now']},
            'Europe/Berlin', {energy}, b.tenths * 100000, p.due_minor, 'EUR', p.klass, 1
        FROM base b JOIN bench_prices p ON p.tariff = b.tariff AND p.customer = b.customer
            AND p.minutes = b.minutes AND p.tenths = b.tenths"""
    invoices = f"""
        INSERT INTO invoices (tenant_id, invoice_id, status, kind, customer_id, currency, net_total, tax_total,
            gross_total, incentive_total, amount_due, per_session, created_at, updated_at)
        {with_base}
        SELECT '{TENANT}', b.invoice, CASE WHEN (b.i / 1000) % 5 = 0 THEN 'finalized' ELSE 'paid' END, 'invoice',
            'C-PUB', 'EUR', 0, 0, 0, 0, 0, {d['false']}, {d['now']}, {d['now']}
        FROM base b WHERE b.i % 1000 = 0"""
    lines = f"""
        INSERT INTO invoice_lines (tenant_id, line_id, invoice_id, position, session_id, station_id, tariff_id,
            customer_class, kind, category, description, quantity, unit, unit_price, net, tax, gross, taxes,
            created_at)
        {with_base}
        SELECT '{TENANT}', {d['line']}, b.invoice, b.i % 1000, b.sid, b.station, b.tariff, p.klass, 'charge', 'energy',
            '', '1', '', '0', p.net, p.tax, p.due_minor, '[]', {d['now']}
        FROM base b JOIN bench_prices p ON p.tariff = b.tariff AND p.customer = b.customer
            AND p.minutes = b.minutes AND p.tenths = b.tenths"""
    with engine.begin() as con:
        con.execute(text("CREATE TEMPORARY TABLE bench_prices (tariff VARCHAR(8), customer VARCHAR(16), "
                         "minutes INTEGER, tenths INTEGER, klass VARCHAR(40), due VARCHAR(40), due_minor BIGINT, "
                         "net BIGINT, tax BIGINT, PRIMARY KEY (tariff, customer, minutes, tenths))"))
        con.execute(text("INSERT INTO bench_prices VALUES (:tariff, :customer, :minutes, :tenths, :klass, :due, "
                         ":due_minor, :net, :tax)"), prices)
        for statement in (sessions, invoices, lines):
            con.execute(text(statement))
        con.execute(text("DROP TABLE bench_prices"))
    with engine.connect() as con:  # statistics, as autovacuum / a DBA would keep them after a bulk load
        con.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    check_facts(engine)


def check_facts(engine: Engine, sample: int = 200) -> None:
    """The generated columns are what the ORM would have derived from the same documents."""
    with sessionmaker(engine)() as db:
        rows = db.scalars(select(SessionRow).where(SessionRow.tenant_id == TENANT).limit(sample)).all()
        for row in rows:
            derived = derive(row.document, row.rating, row.start_at, row.tariff_id)
            stored = {key: getattr(row, key) for key in derived}
            if derived != stored:
                raise SystemExit(f"generated facts differ from derive() for {row.session_id}: {stored} != {derived}")


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the re-rating pool): steadier than wall time on
    a shared machine (the database server's CPU is not in it)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(repeats: int, fn: Callable[[], dict[str, Any]]) -> tuple[list[float], list[float], dict[str, Any]]:
    seconds, cpu, report = [], [], {}
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), _cpu()
        report = fn()
        seconds.append(time.perf_counter() - t0)
        cpu.append(_cpu() - c0)
    return seconds, cpu, report


def figures(label: str, measured: tuple[list[float], list[float], dict[str, Any]]) -> float:
    seconds, cpu, report = measured
    s = report["summary"]
    best, median = min(seconds), statistics.median(seconds)
    print(f"{label}: {s['sessions']:,} sessions, min {best:.2f} s median {median:.2f} s = "
          f"{s['sessions'] / best:,.0f} sessions/s (median {s['sessions'] / median:,.0f}; client CPU min "
          f"{min(cpu):.2f} s; load average {os.getloadavg()[0]:.2f}); expected {s['expected']} billed {s['billed']} paid {s['paid']} {s['currency']}; "
          f"exceptions {s['exceptions'] or 0}")
    return s["sessions"] / best


def bench(engine: Engine, args: argparse.Namespace) -> None:
    name = engine.dialect.name

    def run(kind: str, period: str, mode: str, workers: int = 1) -> dict[str, Any]:
        with sessionmaker(engine)() as db:
            report = reconcile(db, TENANT, kind, period, mode=mode, workers=workers, chunk=args.chunk,
                               emit_events=False, pool_min=1)
            db.rollback()  # the report row is not kept: every repeat reads the same tables
            return report

    figures(f"stored  {name} month, set-based", timed(args.repeats, lambda: run("monthly", "2026-01", "stored")))
    rates = {}
    for processes in args.processes:
        rates[processes] = figures(f"rerate  {name} day {args.rerate_day}, {processes} process(es)",
                                   timed(args.repeats, lambda p=processes: run("daily", args.rerate_day, "rerate", p)))
    if len(rates) > 1:
        first, last = min(rates), max(rates)
        print(f"re-rating scaling {first} -> {last} processes: x{rates[last] / rates[first]:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("EVBILL_BENCH_PG_URL") or os.environ.get(
        "EVBILL_TEST_PG_URL", "postgresql+psycopg://evbill:evbill@127.0.0.1:5432/evbill_test"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", default="1,2", type=lambda v: [int(x) for x in v.split(",")])
    parser.add_argument("--rerate-day", default="2026-01-15")
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--db", type=Path, default=None, help="keep/reuse this SQLite file")
    args = parser.parse_args()
    for database in args.databases.split(","):
        if database == "sqlite":
            path = args.db or Path(tempfile.mkdtemp(prefix="evbill-recon-bench-")) / "bench.db"
            fresh = not path.exists()
            engine = make_engine(f"sqlite:///{path}")
        else:
            engine = make_engine(args.pg_url)
            try:
                with engine.connect() as con:
                    found = con.execute(text("SELECT to_regclass('sessions')")).scalar()
                    fresh = found is None or not con.execute(text(
                        "SELECT 1 FROM sessions WHERE tenant_id = :t LIMIT 1"), {"t": TENANT}).first()
            except Exception as exc:  # noqa: BLE001 - no server here: say so, bench the others
                print(f"postgresql: skipped ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
                continue
        try:
            if fresh:
                t0 = time.perf_counter()
                generate(engine, args.sessions)
                print(f"{engine.dialect.name}: generated {args.sessions:,} billed sessions in "
                      f"{time.perf_counter() - t0:.1f} s")
            bench(engine, args)
        finally:
            engine.dispose()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
