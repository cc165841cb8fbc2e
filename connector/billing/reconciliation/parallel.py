"""Station-partitioned reconciliation: N processes each reconcile a share of the stations, sums merged.

Why: on the batch path the main process's reading and accounting is itself a large share of the work,
so a rating pool alone leaves it serial. Each partition process opens its own connection, streams and
rates its stations (duplicates are per station, so partitioning by station keeps them exact), and returns
Decimal sums that are added here. Partitions read *committed* data through their own connections, so this
is for the CLI / scheduled batch, not for a caller with uncommitted changes (the API uses one process).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from connector.billing.anomalies import Thresholds
from connector.billing.reconciliation.batch import Outcome, Run, merge
from connector.billing.reconciliation.period import Period
from connector.storage.tables.core import SessionRow


def station_ids(db: DbSession, tenant_id: str, period: Period) -> list[str | None]:
    lo, hi = period.utc_bounds()
    rows = db.execute(select(SessionRow.station_id).distinct().where(
        SessionRow.tenant_id == tenant_id, SessionRow.start_at >= lo, SessionRow.start_at < hi))
    return sorted((r[0] for r in rows), key=lambda s: s or "")


def _partition(url: str, tenant_id: str, period: Period, stations: list[str], limits: Thresholds, chunk: int,
               mode: str) -> Outcome:
    """One partition in its own process and connection."""
    from connector.storage.db import make_engine

    engine = make_engine(url)
    try:
        with sessionmaker(engine)() as db:
            return Run(db, tenant_id, period, stations, limits, workers=1, chunk=chunk, mode=mode).execute()
    finally:
        engine.dispose()


def run_partitioned(db: DbSession, tenant_id: str, period: Period, stations: list[str] | None, limits: Thresholds,
                    *, partitions: int, chunk: int, mode: str) -> Outcome:
    """Split the stations round-robin over ``partitions`` processes (sessions without a station go to the
    first share) and merge their sums."""
    bind = db.get_bind().engine
    url = bind.url.render_as_string(hide_password=False)
    if url.startswith("sqlite") and (bind.url.database in (None, "", ":memory:")):
        raise ValueError("partitions: needs a database file or server (an in-memory SQLite is per connection)")
    everything = station_ids(db, tenant_id, period) if stations is None else list(stations)
    shares: list[list[str]] = [[] for _ in range(max(1, partitions))]
    for index, station in enumerate(s for s in everything if s is not None):
        shares[index % len(shares)].append(station)
    shares = [share for share in shares if share]
    if not shares:
        return Run(db, tenant_id, period, stations, limits, chunk=chunk, mode=mode).execute()
    with ProcessPoolExecutor(len(shares), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_partition, url, tenant_id, period, share, limits, chunk, mode) for share in shares]
        parts = [f.result() for f in futures]
    if stations is None and None in everything:  # sessions without a station id: reconciled here
        parts.append(Run(db, tenant_id, period, None, limits, chunk=chunk, mode=mode, only_no_station=True)
                     .execute())
    return merge(parts)
