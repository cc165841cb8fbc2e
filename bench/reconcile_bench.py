"""Time the batch reconciliation of N sessions (default 1,000,000) on a temporary SQLite database.

Generates a month (January 2026, Europe/Berlin) of ended sessions over 10 stations, 2 tariffs and
2 customer classes, each billed by one invoice line (invoices of 1,000 lines, 80 % paid), with a compact
stored rating per session. Prices come from the rating core only: the amount of each distinct
(tariff, class, energy) is rated once with ``rate()`` and reused for the billed line. Then it runs the
monthly reconciliation and prints seconds and sessions/s per mode:

- ``rerate``: expected re-rated from the raw session with the rating core (``--workers`` processes);
- ``stored``: expected from the rating stored at billing (no re-rating; checks invoices against ratings).

Usage: python bench/reconcile_bench.py [--sessions 1000000] [--workers 2 | --partitions 2] [--modes rerate,stored]
       [--db FILE: keep the generated database and reuse it on the next run]
Generation time is printed apart and not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.orm import sessionmaker  # noqa: E402

from connector.billing.reconciliation.run import reconcile  # noqa: E402
from connector.models import Customer, Session, Tariff  # noqa: E402
from connector.money import to_minor  # noqa: E402
from connector.rating import rate  # noqa: E402
from connector.storage import repo  # noqa: E402
from connector.storage.db import make_engine  # noqa: E402
from connector.storage.tables import all_metadata  # noqa: E402
from connector.storage.tables.core import CustomerRow  # noqa: E402

TENANT = "bench"
TARIFFS = {
    "T-A": {"id": "T-A", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]},
    "T-B": {"id": "T-B", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "19", "step_size": 1},
                              {"type": "TIME", "price": "1.20", "vat": "19", "step_size": 60}]},
        ]},
}
CUSTOMERS = {"C-PUB": "public", "C-FLEET": "fleet"}
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class Prices:
    """Amounts from the rating core, rated once per distinct input and reused (a cache, not a formula)."""

    def __init__(self) -> None:
        self.tariffs = {k: Tariff.model_validate(v) for k, v in TARIFFS.items()}
        self.customers = {k: Customer(id=k, customer_class=v) for k, v in CUSTOMERS.items()}
        self.cache: dict[tuple[str, str, int, str], tuple[Decimal, Decimal, Decimal, str | None]] = {}

    def get(self, tariff: str, customer: str, minutes: int, energy: str, start: datetime
            ) -> tuple[Decimal, Decimal, Decimal, str | None]:
        # no time-of-day restrictions in these tariffs; T-A prices energy only, so its duration is no input
        key = (tariff, customer, minutes if tariff == "T-B" else 0, energy)
        if key not in self.cache:
            session = Session(id="x", start=start, end=start + timedelta(minutes=minutes), energy_kwh=energy,
                              time_zone="Europe/Berlin", tariff_id=tariff)
            result = rate(session, [self.tariffs[tariff]], self.customers[customer])
            inv = result.invoice
            self.cache[key] = (inv.net_total, inv.tax_total, inv.amount_due, result.customer_class)
        return self.cache[key]


def generate(url: str, path: Path, count: int, seed: int = 7) -> None:
    engine = make_engine(url)
    all_metadata().create_all(engine)
    with sessionmaker(engine)() as db:
        repo.ensure_tenant(db, TENANT)
        for tariff in TARIFFS.values():
            repo.create_tariff(db, TENANT, Tariff.model_validate(tariff))
        for customer_id, klass in CUSTOMERS.items():
            db.add(CustomerRow(tenant_id=TENANT, customer_id=customer_id, customer_class=klass))
        db.commit()
    engine.dispose()
    rnd = random.Random(seed)
    prices = Prices()
    month = datetime(2026, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC).strftime(SQLITE_TIME)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    sessions, lines, invoices = [], [], []
    for i in range(count):
        start = month + timedelta(seconds=rnd.randrange(2, 30 * 86400))  # Berlin-local January for any offset
        minutes = rnd.randrange(10, 240, 5)
        energy = str(Decimal(rnd.randrange(10, 800)) / 10)
        tariff = "T-A" if i % 3 else "T-B"
        customer = "C-FLEET" if i % 4 == 0 else "C-PUB"
        station = f"ST-{i % 10:02d}"
        net, tax, due, klass = prices.get(tariff, customer, minutes, energy, start)
        end = start + timedelta(minutes=minutes)
        sid = f"S{i:08d}"
        doc = {"id": sid, "station_id": station, "tariff_id": tariff, "customer_id": customer, "start": iso(start),
               "end": iso(end), "energy_kwh": energy, "time_zone": "Europe/Berlin", "status": "billed"}
        rating = {"currency": "EUR", "customer_class": klass, "total_energy": energy,
                  "invoice": {"amount_due": str(due)}}
        sessions.append((TENANT, sid, "billed", json.dumps(doc), json.dumps(rating), station, customer, tariff,
                         start.strftime(SQLITE_TIME), end.strftime(SQLITE_TIME), now, now))
        invoice_id = f"INV-{i // 1000:06d}"
        if i % 1000 == 0:
            status = "paid" if (i // 1000) % 5 else "finalized"
            invoices.append((TENANT, invoice_id, status, "invoice", customer, "EUR", 0, 0, 0, 0, 0, False, now, now))
        lines.append((TENANT, f"L{i:08d}", invoice_id, 0, sid, station, tariff, klass, "charge", "energy", "", "1",
                      "", "0", to_minor(net, "EUR"), to_minor(tax, "EUR"), to_minor(due, "EUR"), "[]", now))
        if len(sessions) >= 50_000 or i == count - 1:
            con.executemany("INSERT INTO sessions (tenant_id, session_id, status, document, rating, station_id, "
                            "customer_id, tariff_id, start_at, end_at, created_at, updated_at) "
                            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", sessions)
            con.executemany("INSERT INTO invoices (tenant_id, invoice_id, status, kind, customer_id, currency, "
                            "net_total, tax_total, gross_total, incentive_total, amount_due, per_session, "
                            "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", invoices)
            con.executemany("INSERT INTO invoice_lines (tenant_id, line_id, invoice_id, position, session_id, "
                            "station_id, tariff_id, customer_class, kind, category, description, quantity, unit, "
                            "unit_price, net, tax, gross, taxes, created_at) "
                            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", lines)
            con.commit()
            sessions, lines, invoices = [], [], []
    con.execute("ANALYZE")
    con.commit()
    con.close()


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the rating pool): load-independent cost."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="re-rating processes (rerate mode)")
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--partitions", type=int, default=1, help="station shares in separate processes")
    parser.add_argument("--modes", default="rerate,stored")
    parser.add_argument("--db", type=Path, default=None, help="keep/reuse this SQLite file")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="evbill-recon-bench-"))
    path = args.db or folder / "bench.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        t0 = time.perf_counter()
        generate(url, path, args.sessions)
        print(f"generated {args.sessions:,} billed sessions in {time.perf_counter() - t0:.1f} s ({path})")
    engine = make_engine(url)
    for mode in args.modes.split(","):
        with sessionmaker(engine)() as db:
            cpu0 = _cpu()
            t0 = time.perf_counter()
            report = reconcile(db, TENANT, "monthly", "2026-01", workers=args.workers, chunk=args.chunk, mode=mode,
                               partitions=args.partitions)
            db.commit()
            seconds = time.perf_counter() - t0
            cpu = _cpu() - cpu0
        s = report["summary"]
        how = f"partitions={args.partitions}" if args.partitions > 1 else \
            f"workers={args.workers if mode == 'rerate' else 1}"
        print(f"{mode:7s} {how}: {s['sessions']:,} sessions in "
              f"{seconds:.1f} s = {s['sessions'] / seconds:,.0f} sessions/s (CPU {cpu:.1f} s = "
              f"{s['sessions'] / cpu:,.0f} sessions per CPU-second); expected {s['expected']} billed "
              f"{s['billed']} paid {s['paid']} {s['currency']}; exceptions {s['exceptions'] or 0}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
