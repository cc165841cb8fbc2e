"""The set-based stored reconciliation equals the per-session one, on SQLite and PostgreSQL.

A random month of sessions near the period's local edges (Berlin, Los Angeles, UTC, no zone, an unknown
zone; DST days), stored ratings in EUR and JPY (some missing, some not summable in SQL), invoice lines on
paid/finalized/void invoices and credit notes, partial payments and duplicates: the report of
``aggregate.run_stored`` must be the report of ``batch.Run`` to the last digit and exception.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from connector.billing.anomalies import Thresholds
from connector.billing.reconciliation.aggregate import run_stored
from connector.billing.reconciliation.batch import Run
from connector.billing.reconciliation.period import parse_period
from connector.billing.reconciliation.run import reconcile, summarize
from connector.storage import repo
from connector.storage.db import make_engine
from connector.storage.session_facts import OPEN, PER_SESSION, PLAIN, UNSUMMABLE
from connector.storage.tables import all_metadata
from connector.storage.tables.billing import InvoiceLineRow, InvoiceRow
from connector.storage.tables.core import CustomerRow, SessionRow
from connector.storage.tables.payments import PaymentRow
from tests.api.pg import fresh_database, pg_available

TENANT = "t1"
ZONES = ["Europe/Berlin", "America/Los_Angeles", "UTC", None, "Bogus/Zone"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Iterator[Session]:
    if request.param == "sqlite":
        url_ctx: Any = None
        url = f"sqlite:///{tmp_path / 'set.db'}"
    else:
        if not pg_available():
            pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL); run scripts/setup_system.sh")
        url_ctx = fresh_database()
        url = url_ctx.__enter__()
    engine = make_engine(url)
    all_metadata().create_all(engine)
    try:
        with sessionmaker(engine, expire_on_commit=False)() as session:
            repo.ensure_tenant(session, TENANT)
            for customer_id, klass in (("C-PUB", "public"), ("C-FLEET", "fleet")):
                session.add(CustomerRow(tenant_id=TENANT, customer_id=customer_id, customer_class=klass))
            session.commit()
            yield session
    finally:
        engine.dispose()
        if url_ctx is not None:
            url_ctx.__exit__(None, None, None)


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_midnight(day: date, zone: str | None) -> datetime:
    tz = ZoneInfo(zone) if zone in ("Europe/Berlin", "America/Los_Angeles") else UTC
    return datetime.combine(day, time.min, tz).astimezone(UTC)


def add_session(db: Session, session_id: str, start: datetime, *, zone: str | None = "Europe/Berlin",
                station: str = "ST-1", energy: str | None = "10", end: bool = True, rating: dict[str, Any] | None,
                customer: str = "C-PUB", tariff: str = "T-A", start_text: str | None = None) -> None:
    doc: dict[str, Any] = {"id": session_id, "station_id": station, "tariff_id": tariff, "customer_id": customer,
                           "start": start_text or iso(start), "status": "billed" if end else "active"}
    if zone is not None:
        doc["time_zone"] = zone
    if energy is not None:
        doc["energy_kwh"] = energy
    if end:
        doc["end"] = iso(start + timedelta(minutes=45))
    db.add(SessionRow(tenant_id=TENANT, session_id=session_id, status=doc["status"], document=doc, rating=rating,
                      station_id=station, customer_id=customer, tariff_id=tariff, start_at=start,
                      end_at=start + timedelta(minutes=45) if end else None))


def rating_of(amount: str, currency: str = "EUR", klass: str | None = "public",
              energy: str | None = "10") -> dict[str, Any]:
    return {"currency": currency, "customer_class": klass, "total_energy": energy,
            "invoice": {"amount_due": amount}}


_n = iter(range(1, 10**6))


def add_bill(db: Session, session_id: str, gross: int, *, status: str = "paid", kind: str = "invoice",
             currency: str = "EUR", due: int | None = None, paid: list[int] | None = None) -> None:
    number = next(_n)
    invoice_id = f"INV-{number}"
    db.add(InvoiceRow(tenant_id=TENANT, invoice_id=invoice_id, status=status, kind=kind, customer_id="C-PUB",
                      currency=currency, gross_total=gross, amount_due=gross if due is None else due,
                      per_session=True))  # drafts: not the customer's one open collecting draft
    db.add(InvoiceLineRow(tenant_id=TENANT, line_id=f"L-{number}", invoice_id=invoice_id, session_id=session_id,
                          kind="credit" if kind == "credit_note" else "charge", category="energy", gross=gross))
    for i, amount in enumerate(paid or []):
        db.add(PaymentRow(tenant_id=TENANT, payment_id=f"P-{number}-{i}", invoice_id=invoice_id, platform="stripe",
                          kind="payment" if amount > 0 else "reversal", status="applied", vendor_ref=f"r{number}{i}",
                          currency=currency, amount=abs(amount), paid_at=datetime(2026, 3, 2, tzinfo=UTC)))


def outcome_report(out: Any) -> tuple[Any, ...]:
    summary, rows = summarize(out)
    exceptions = sorted(out.exceptions, key=lambda e: (e["kind"], e["session_id"] or "", e["message"]))
    return summary, rows, exceptions


def both(db: Session, kind: str, period: str, limits: Thresholds | None = None) -> tuple[Any, Any]:
    parsed = parse_period(kind, period)
    limits = limits or Thresholds()
    fast = run_stored(db, TENANT, parsed, None, limits, chunk=7)
    assert fast is not None, "the set-based path declined"
    slow = Run(db, TENANT, parsed, None, limits, chunk=7, mode="stored").execute()
    return outcome_report(fast), outcome_report(slow)


def seed_random(db: Session, seed: int, count: int) -> None:
    rnd = random.Random(seed)
    edges = [date(2026, 3, 1), date(2026, 4, 1), date(2026, 3, 8), date(2026, 3, 29), date(2026, 3, 30)]
    offsets = [timedelta(0), -timedelta(microseconds=1), -timedelta(milliseconds=1), timedelta(microseconds=1),
               timedelta(hours=1), -timedelta(hours=1), timedelta(hours=9)]
    placed: list[tuple[str, datetime, str, str | None]] = []
    for i in range(count):
        sid = f"S{i:04d}"
        zone = rnd.choice(ZONES)
        if placed and rnd.random() < 0.08:  # a duplicate of an earlier session (station, start, energy)
            _sid, start, station, energy = rnd.choice(placed)
            energy = {"10": "10.0", "10.0": "10.000"}.get(energy or "", energy)  # the same value, spelled apart
        else:
            start = local_midnight(rnd.choice(edges), zone) + rnd.choice(offsets) \
                + (timedelta(minutes=rnd.randrange(-3000, 3000)) if rnd.random() < 0.4 else timedelta(0))
            station = rnd.choice(["ST-1", "ST-2", "ST-3"])
            energy = rnd.choice(["10", "7.5", "22.125", "0", "-3", None, "12.3456789", "10.0"])
        currency = "JPY" if rnd.random() < 0.15 else "EUR"
        minor = rnd.randrange(0, 5000)
        amount = str(minor) if currency == "JPY" else f"{minor // 100}.{minor % 100:02d}"
        roll = rnd.random()
        rating: dict[str, Any] | None
        if roll < 0.1:
            rating = None
        elif roll < 0.15:
            rating = rating_of(amount + "5" if currency == "EUR" else amount + ".5", currency)  # more decimals
        elif roll < 0.2:
            rating = rating_of(amount, currency, klass=None)  # class from the customer
        else:
            rating = rating_of(amount, currency, klass=rnd.choice(["public", "fleet"]),
                               energy=rnd.choice([energy if energy and not energy.startswith("-") else "5",
                                                  None, "3.3333333"]))
        ended = rnd.random() > 0.1
        add_session(db, sid, start, zone=zone, station=station, energy=energy, end=ended, rating=rating,
                    customer=rnd.choice(["C-PUB", "C-FLEET", "C-NONE"]), tariff=rnd.choice(["T-A", "T-B"]),
                    start_text=start.astimezone(ZoneInfo("Europe/Berlin")).isoformat() if rnd.random() < 0.1
                    else None)
        placed.append((sid, start, station, energy))
        for _ in range(rnd.choice([0, 1, 1, 1, 2, 3])):
            gross = minor if rnd.random() < 0.7 else rnd.randrange(-200, 5000)
            status = rnd.choice(["paid", "paid", "finalized", "void", "draft"])
            kind = "credit_note" if rnd.random() < 0.1 else "invoice"
            due = gross if rnd.random() < 0.6 else rnd.randrange(1, 9000)
            paid = None if rnd.random() < 0.5 else [rnd.randrange(1, 9000) for _ in range(rnd.choice([1, 2]))]
            if paid and rnd.random() < 0.2:
                paid.append(-rnd.randrange(1, 100))
            add_bill(db, sid, gross, status=status, kind=kind, currency=currency, due=due, paid=paid)
    db.commit()
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ANALYZE"))  # as autovacuum would after a bulk load: plans from real row counts


@pytest.mark.parametrize("seed", [1, 2])
def test_random_month_equals_the_per_session_path(db, seed):
    seed_random(db, seed, 400)
    kinds = {k for (k,) in db.query(SessionRow.recon_kind)}
    assert {PLAIN, OPEN, PER_SESSION} <= kinds and UNSUMMABLE not in kinds
    fast, slow = both(db, "monthly", "2026-03")
    assert fast == slow
    summary = fast[0]
    assert summary["sessions"] > 100 and summary["exceptions"].get("duplicate") and summary["exceptions"].get(
        "mismatch") and summary["exceptions"].get("unbilled") and summary["exceptions"].get("rating_failure")
    for day in ("2026-03-08", "2026-03-29", "2026-03-31"):
        fast, slow = both(db, "daily", day)
        assert fast == slow
    tolerant = Thresholds(mismatch_tolerance="1.00")
    fast, slow = both(db, "monthly", "2026-03", tolerant)
    assert fast == slow


@pytest.mark.parametrize(("zone", "kind", "period", "first", "after"), [
    ("Europe/Berlin", "daily", "2026-03-29", date(2026, 3, 29), date(2026, 3, 30)),   # 23-hour day
    ("Europe/Berlin", "daily", "2026-10-25", date(2026, 10, 25), date(2026, 10, 26)),  # 25-hour day
    ("Europe/Berlin", "monthly", "2026-03", date(2026, 3, 1), date(2026, 4, 1)),
    ("America/Los_Angeles", "daily", "2026-03-08", date(2026, 3, 8), date(2026, 3, 9)),
    ("America/Los_Angeles", "daily", "2026-11-01", date(2026, 11, 1), date(2026, 11, 2)),
    ("America/Los_Angeles", "monthly", "2026-10", date(2026, 10, 1), date(2026, 11, 1)),
])
def test_local_period_edges(db, zone, kind, period, first, after):
    """In: 00:00 local on the first day, 23:59:59.999 local on the last. Out: a microsecond before, 00:00 after."""
    tz = ZoneInfo(zone)
    start_in = datetime.combine(first, time.min, tz)
    end_in = datetime.combine(after - timedelta(days=1), time(23, 59, 59, 999000), tz)
    cases = {"IN-FIRST": start_in, "IN-LAST": end_in, "OUT-BEFORE": start_in - timedelta(microseconds=1),
             "OUT-NEXT": datetime.combine(after, time.min, tz)}
    for sid, local in cases.items():
        add_session(db, sid, local.astimezone(UTC), zone=zone, station=sid, rating=rating_of("3.57"),
                    start_text=local.isoformat())
        add_bill(db, sid, 357)
    db.commit()
    report = reconcile(db, TENANT, kind, period, mode="stored", emit_events=False)
    assert {r["station_id"] for r in report["rows"]} == {"IN-FIRST", "IN-LAST"}
    assert report["summary"]["expected"] == report["summary"]["billed"] == "7.14"
    fast, slow = both(db, kind, period)
    assert fast == slow


def test_unsummable_energy_takes_the_per_session_path(db):
    add_session(db, "HUGE", datetime(2026, 3, 10, 12, tzinfo=UTC), energy="1E+30", rating=rating_of("3.57"))
    add_session(db, "OK", datetime(2026, 3, 10, 13, tzinfo=UTC), rating=rating_of("3.57"))
    add_bill(db, "OK", 357)
    db.commit()
    assert db.get(SessionRow, (TENANT, "HUGE")).recon_kind == UNSUMMABLE
    parsed = parse_period("monthly", "2026-03")
    assert run_stored(db, TENANT, parsed, None, Thresholds()) is None
    report = reconcile(db, TENANT, "monthly", "2026-03", mode="stored", emit_events=False)
    assert report["summary"]["sessions"] == 2 and report["summary"]["exceptions"] == {"rating_failure": 1, "unbilled": 1}
    assert report["summary"]["expected"] == report["summary"]["billed"] == "3.57"


def test_facts_follow_the_rating_written_later(db):
    """A rating stored after the session (``put_rating``) sets the amount in minor units."""
    add_session(db, "LATE", datetime(2026, 3, 10, 12, tzinfo=UTC), rating=None)
    db.commit()
    row = db.get(SessionRow, (TENANT, "LATE"))
    assert (row.recon_kind, row.due_minor) == (PER_SESSION, None)
    repo.put_rating(db, TENANT, "LATE", rating_of("1234", "JPY", energy="10.5"))  # type: ignore[arg-type]
    db.commit()
    db.refresh(row)
    assert (row.recon_kind, row.due_minor, row.rated_currency, row.rated_energy) == (PLAIN, 1234, "JPY", 10_500_000)
