"""The batch path of reconciliation: stream a period's sessions, re-rate them in chunks, aggregate in Decimal.

Why streaming: a month of a large operator is millions of sessions; they are read in chunks (server-side
cursor on PostgreSQL via ``yield_per``), each joined to its invoice lines, and only the per-group sums stay
in memory. Re-rating runs in this process or, with ``workers`` > 1, in worker processes that each read,
re-rate and sum their own slices of the period (``Run._sliced``); when they cannot see what this
transaction sees, this process reads and a pool rates its chunks, overlapped with reading the next ones.

Per session: expected = the rating core's amount due now (``mode="rerate"``) or the rating stored when
the session was billed (``mode="stored"``, no re-rating: it checks invoices against ratings, not ratings
against tariffs); billed = gross of its invoice lines on non-void invoices, credit-note lines subtracting (a
mismatch compares expected with billed less the VAT its invoice restated per rate, ``vat_rounding``);
paid = each line's share of what payment platforms paid on its invoice (``connector.billing.payments``; a
partly paid invoice counts in proportion), or its gross on a paid invoice with no payments booked.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, getcontext
from multiprocessing import get_all_start_methods, get_context
from types import ModuleType
from typing import Any

from sqlalchemy import and_, case, false, func, or_, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

from connector.billing.anomalies import Thresholds, parse_instant, session_energy
from connector.billing.reconciliation.period import Period
from connector.billing.reconciliation.rerating import Rated, RateItem, VersionData, init_worker, rate_chunk
from connector.models import Customer
from connector.money import to_major
from connector.storage import repo
from connector.storage.session_facts import OPEN, PER_SESSION, PLAIN, UNSUMMABLE
from connector.storage.tables.billing import invoice_lines, invoices
from connector.storage.tables.core import CustomerRow, SessionRow, TariffRow, TariffVersionRow
from connector.storage.tables.payments import PaymentRow

ZERO = Decimal(0)
WH = Decimal("0.001")  # the report's energy precision (``run.WH``)
GroupKey = tuple[str | None, str | None, str | None, str | None]  # station, tariff, customer class, currency


@dataclass(slots=True)
class Group:
    sessions: int = 0
    energy: Decimal = ZERO
    expected: Decimal = ZERO
    billed: Decimal = ZERO
    paid: Decimal = ZERO


@dataclass(slots=True)
class Billing:
    """A session's invoice lines summed in minor units (exact integers)."""

    currency: str
    billed: int = 0
    paid: int = 0
    lines: int = 0
    vat_rounding: int = 0  # what the invoices' VAT policy moved (docs/rating.md): billed - this = as rated


@dataclass(slots=True)
class Meta:
    """What the main process knows of a session before its rating comes back."""

    session_id: str
    station_id: str | None
    tariff_id: str | None
    customer_class: str | None
    ended: bool
    energy: Decimal | None
    rateable: bool


@dataclass
class Outcome:
    groups: dict[GroupKey, Group] = field(default_factory=dict)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    sessions: int = 0
    open_sessions: int = 0


def merge(parts: list[Outcome]) -> Outcome:
    """The sums of runs over disjoint parts of one period (slices, station shares, set-based + per-session)."""
    out = Outcome()
    for part in parts:
        out.sessions += part.sessions
        out.open_sessions += part.open_sessions
        out.exceptions.extend(part.exceptions)
        for key, g in part.groups.items():
            total = out.groups.setdefault(key, Group())
            total.sessions += g.sessions
            total.energy += g.energy
            total.expected += g.expected
            total.billed += g.billed
            total.paid += g.paid
    return out


def exception(kind: str, rule: str, meta: Meta, message: str, **details: Any) -> dict[str, Any]:
    return {"kind": kind, "rule": rule, "session_id": meta.session_id, "station_id": meta.station_id,
            "tariff_id": meta.tariff_id, "customer_class": meta.customer_class, "message": message,
            "details": {k: (str(v) if isinstance(v, Decimal) else v) for k, v in details.items()}}


# ------------------------------------------------------------------------------------------- reading


def load_versions(db: DbSession, tenant_id: str) -> dict[str, list[VersionData]]:
    out: dict[str, list[VersionData]] = {}
    rows = db.execute(select(TariffVersionRow.tariff_id, TariffVersionRow.version_no, TariffVersionRow.effective_at,
                             TariffVersionRow.policy, TariffVersionRow.document)
                      .where(TariffVersionRow.tenant_id == tenant_id))
    for tariff_id, number, effective_at, policy, document in rows:
        out.setdefault(tariff_id, []).append(VersionData(number, repo.aware(effective_at), policy, document))
    return out


STORED_FIELDS = ("start", "end", "time_zone", "energy_kwh", "customer_id", "customer_class", "tariff_id")


@dataclass(frozen=True, slots=True)
class Scope:
    """Which rows of the period's UTC window a run reads (plain data: a worker process rebuilds the SQL).

    ``zones``: per group of time zones, the UTC instants [lo, hi) of the period there (``local_ranges``):
    a session whose columns are its document's (not ``UNSUMMABLE``) is read only when its ``start_at`` falls
    in its zone's range, so a day's run reads that day, not the three days of the window (None: the whole
    window, e.g. a clock change at the period's edge). The rows it leaves out are exactly those the
    per-row test (``Period.contains``) would drop. ``start_from``/``start_before``: a slice of
    ``start_at`` for one worker process (every row with one ``start_at`` is in one slice, so the duplicate
    check, which compares sessions of the same start, stays within a slice). ``unsummable``: the window
    has ``UNSUMMABLE`` sessions (read over the whole window); without them the test is a plain range the
    planner reads in ``start_at`` order from the index."""

    zones: tuple[tuple[tuple[str, ...], datetime, datetime], ...] | None = None
    unsummable: bool = True
    start_from: Any = None
    start_before: Any = None

    def slice(self, start_from: Any, start_before: Any) -> Scope:
        return Scope(self.zones, self.unsummable, start_from, start_before)


def scope_for(db: DbSession, tenant_id: str, period: Period, stations: list[str] | None) -> Scope:
    """The narrowed window of a run over the period (``Scope``)."""
    zones = local_ranges(db, tenant_id, period, stations, NARROWED)
    if zones is None:
        return Scope()
    lo, hi = period.utc_bounds()
    where = [SessionRow.tenant_id == tenant_id, SessionRow.recon_kind == UNSUMMABLE, SessionRow.start_at >= lo,
             SessionRow.start_at < hi]
    if stations is not None:
        where.append(SessionRow.station_id.in_(stations))
    return Scope(zones, db.connection().execute(select(SessionRow.session_id).where(*where).limit(1)).first()
                 is not None)


def local_ranges(db: DbSession, tenant_id: str, period: Period, stations: list[str] | None,
                 kinds: Sequence[int]) -> tuple[tuple[tuple[str, ...], datetime, datetime], ...] | None:
    """The period's UTC range per group of time zones of the window's sessions of ``kinds`` (no zone and ""
    are UTC, as ``period.zone`` reads them); None when a zone's period is not one interval."""
    lo, hi = period.utc_bounds()
    window = [SessionRow.tenant_id == tenant_id, SessionRow.start_at >= lo, SessionRow.start_at < hi,
              SessionRow.recon_kind.in_(kinds)]
    if stations is not None:
        window.append(SessionRow.station_id.in_(stations))
    names = db.connection().execute(select(SessionRow.time_zone).where(*window).distinct()).scalars()
    by_bounds: dict[tuple[datetime, datetime], set[str]] = {}
    for name in names:
        bounds = period.local_bounds(name)
        if bounds is None:
            return None
        by_bounds.setdefault(bounds, set()).add(name or "")
    return tuple((tuple(sorted(zones)), z_lo, z_hi) for (z_lo, z_hi), zones in by_bounds.items())


def zones_clause(zones: tuple[tuple[tuple[str, ...], datetime, datetime], ...]) -> Any:
    """``start_at`` in its zone's range; an expression on the zone, so the planner keeps the start range."""
    if not zones:
        return false()
    return or_(*(and_(func.coalesce(SessionRow.time_zone, "").in_(names), SessionRow.start_at >= z_lo,
                      SessionRow.start_at < z_hi) for names, z_lo, z_hi in zones))


def _conditions(tenant_id: str, period: Period, stations: list[str] | None, no_station: bool = False,
                only_kind: int | None = None, scope: Scope | None = None) -> list[Any]:
    lo, hi = period.utc_bounds()
    where = [SessionRow.tenant_id == tenant_id, SessionRow.start_at >= lo, SessionRow.start_at < hi]
    if only_kind is not None:
        where.append(SessionRow.recon_kind == only_kind)
    if no_station:
        where.append(SessionRow.station_id.is_(None))
    elif stations is not None:
        where.append(SessionRow.station_id.in_(stations))
    if scope is not None:
        if scope.zones is not None and scope.unsummable:  # their start or zone is not in the columns
            where.append(or_(SessionRow.recon_kind == UNSUMMABLE, zones_clause(scope.zones)))
        elif scope.zones is not None:
            if scope.zones:  # the union of the zones' ranges first: an index range
                where += [SessionRow.start_at >= min(z[1] for z in scope.zones),
                          SessionRow.start_at < max(z[2] for z in scope.zones)]
            where.append(zones_clause(scope.zones))
        if scope.start_from is not None:
            where.append(SessionRow.start_at >= scope.start_from)
        if scope.start_before is not None:
            where.append(SessionRow.start_at < scope.start_before)
    return where


def _window(query: Any, tenant_id: str, period: Period, stations: list[str] | None, no_station: bool = False,
            only_kind: int | None = None, scope: Scope | None = None) -> Any:
    return query.where(*_conditions(tenant_id, period, stations, no_station, only_kind, scope)
                       ).order_by(SessionRow.start_at, SessionRow.session_id)


def stream_sessions(db: DbSession, tenant_id: str, period: Period, stations: list[str] | None, chunk: int,
                    mode: str, no_station: bool = False, only_kind: int | None = None,
                    scope: Scope | None = None) -> Iterator[list[tuple[Sequence[Any], Billing | None]]]:
    """Chunks of (session row, its invoice lines summed) in the period's UTC window, in (start_at,
    session_id) order.

    One query: each session joined to its lines on non-void invoices (a session's rows are adjacent; a
    line of a void or missing invoice has no invoice columns and counts nothing), read through a
    server-side cursor (``yield_per``) as Core rows on the ORM session's connection. ``mode="stored"``
    reads only the document fields it needs (JSON paths in SQL) instead of parsing every document."""
    columns: list[Any] = [SessionRow.session_id, SessionRow.station_id, SessionRow.customer_id,
                          SessionRow.tariff_id, SessionRow.start_at]
    if mode == "stored":
        columns += [SessionRow.document[f].as_string() for f in STORED_FIELDS]
        columns += [SessionRow.rating[("invoice", "amount_due")].as_string(),
                    SessionRow.rating["currency"].as_string(), SessionRow.rating["customer_class"].as_string(),
                    SessionRow.rating["total_energy"].as_string()]
    else:
        columns.append(SessionRow.document)
    received = paid_per_invoice(tenant_id)
    source = (SessionRow.__table__
              .outerjoin(invoice_lines, and_(invoice_lines.c.tenant_id == SessionRow.tenant_id,
                                             invoice_lines.c.session_id == SessionRow.session_id))
              .outerjoin(invoices, and_(invoices.c.tenant_id == invoice_lines.c.tenant_id,
                                        invoices.c.invoice_id == invoice_lines.c.invoice_id,
                                        invoices.c.status != "void"))
              .outerjoin(received, received.c.invoice_id == invoices.c.invoice_id))
    width = len(columns)
    columns += [invoices.c.invoice_id, invoice_lines.c.gross, invoices.c.kind, invoices.c.status,
                invoices.c.currency, invoices.c.amount_due, received.c.paid, invoice_lines.c.vat_rounding]
    query = _window(select(*columns).select_from(source), tenant_id, period, stations, no_station, only_kind,
                    scope).execution_options(yield_per=chunk)
    out: list[tuple[Sequence[Any], Billing | None]] = []
    row: Sequence[Any] | None = None
    bill: Billing | None = None
    for part in db.connection().execute(query).partitions():
        for joined in part:
            if row is None or joined[0] != row[0]:
                if row is not None:
                    out.append((row, bill))
                    if len(out) >= chunk:
                        yield out
                        out = []
                row, bill = joined, None
            if joined[width] is not None:
                bill = add_line(bill, *joined[width + 1:])
    if row is not None:
        out.append((row, bill))
    if out:
        yield out


def add_line(billing: Billing | None, gross: Any, kind: str, status: str, currency: str, due: Any, received: Any,
             rounding: Any) -> Billing:
    """A session's billing with one more of its invoice lines (minor units)."""
    amount = -abs(int(gross)) if kind == "credit_note" else int(gross)
    if billing is None:
        billing = Billing(currency)
    billing.billed += amount
    billing.vat_rounding += -int(rounding or 0) if kind == "credit_note" else int(rounding or 0)
    billing.lines += 1
    if kind == "credit_note" or received is None:  # no payment rows: paid before payments were booked
        billing.paid += amount if status == "paid" else 0
    else:
        billing.paid += paid_share(amount, int(received), int(due))
    return billing


def paid_per_invoice(tenant_id: str) -> Any:
    """Per invoice: what the payment platforms paid (applied payments minus reversals, minor units)."""
    signed = case((PaymentRow.kind == "payment", PaymentRow.amount), else_=-PaymentRow.amount)
    return (select(PaymentRow.invoice_id, func.sum(signed).label("paid"))
            .where(PaymentRow.tenant_id == tenant_id, PaymentRow.status == "applied")
            .group_by(PaymentRow.invoice_id).subquery("received"))


def paid_share(line_gross: int, received: int, due: int) -> int:
    """A line's part of what its invoice received, in proportion to its gross (half up to the minor unit)."""
    if due <= 0:
        return 0
    return int((Decimal(line_gross) * received / due).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class Customers:
    """Customer models by id, loaded once per run."""

    def __init__(self, db: DbSession, tenant_id: str) -> None:
        self.db, self.tenant_id = db, tenant_id
        self.cache: dict[str, Customer | None] = {}

    def get(self, customer_id: str | None) -> Customer | None:
        if not customer_id:
            return None
        if customer_id not in self.cache:
            row = self.db.get(CustomerRow, (self.tenant_id, customer_id))
            self.cache[customer_id] = None if row is None else repo.customer_model(row)
        return self.cache[customer_id]


class Adjustments:
    """The adjustments engine's list per session; skipped (empty) when the tenant has no rules and no
    promotion redemptions, which is the same answer without a query per session."""

    def __init__(self, db: DbSession, tenant_id: str) -> None:
        self.db, self.tenant_id = db, tenant_id
        module: ModuleType | None
        try:
            from connector.billing.pricing import adjustments as module
        except ModuleNotFoundError:
            module = None
        self.fn = getattr(module, "adjustments_for", None)
        self.trivial = self.fn is None or self._none_configured(module)

    def _none_configured(self, module: Any) -> bool:
        try:
            from sqlalchemy import func

            rules = module.get_settings(self.db, self.tenant_id).rules
            redemptions = self.db.scalar(select(func.count()).select_from(module.PromotionRedemptionRow).where(
                module.PromotionRedemptionRow.tenant_id == self.tenant_id))
            return not rules.model_dump(exclude_defaults=True) and not redemptions
        except AttributeError:  # the engine changed shape: ask it per session
            return False

    def get(self, doc: dict[str, Any], customer: Customer | None) -> tuple[Any, ...]:
        if self.trivial:
            return ()
        from connector.models.session_merge import to_session

        try:
            return tuple(self.fn(self.db, self.tenant_id, to_session(doc), customer))  # type: ignore[misc]
        except ValueError:
            return ()  # an unparseable session: its rating reports the field


# --------------------------------------------------------------------------------------------- running


class Run:
    """One reconciliation pass; ``execute()`` returns the per-group sums and the exceptions."""

    def __init__(self, db: DbSession, tenant_id: str, period: Period, stations: list[str] | None,
                 limits: Thresholds, *, workers: int = 1, chunk: int = 2000, mode: str = "rerate",
                 only_no_station: bool = False, progress: Callable[[int], None] | None = None,
                 only_kind: int | None = None, duplicates: bool = True, pool_min: int = 1,
                 scope: Scope | None = None) -> None:
        if mode not in ("rerate", "stored"):
            raise ValueError(f"mode: one of rerate, stored (got {mode!r})")
        self.db, self.tenant_id, self.period, self.stations = db, tenant_id, period, stations
        self.limits, self.workers, self.chunk, self.mode = limits, max(1, workers), max(1, chunk), mode
        self.out = Outcome()
        self.tariff_currency = dict(db.execute(select(TariffRow.tariff_id, TariffRow.currency)
                                               .where(TariffRow.tenant_id == tenant_id)).all())
        self.customers = Customers(db, tenant_id)
        self.adjustments = Adjustments(db, tenant_id)
        self.no_station = only_no_station  # the sessions without a station id (partitioned runs)
        # the set-based path (``aggregate``) hands this path only the sessions its SQL cannot sum, and finds
        # duplicates itself across all sessions
        self.only_kind, self.duplicates = only_kind, duplicates
        self.pool_min = max(1, pool_min)  # fewer sessions to re-rate than this: rated here, no pool started
        self._same_start: dict[tuple[Any, ...], str] = {}
        self._start_at: Any = None
        self._failed: dict[str, Rated] = {}  # sessions that failed before rating (their error result)
        self.progress = progress  # told the running count of sessions accounted after every chunk (CLI)
        self.settled = 0
        self.scope = scope  # None: worked out in ``execute`` (a slice worker is handed its own)

    def _pool(self, versions: dict[str, list[VersionData]]) -> ProcessPoolExecutor | None:
        """A pool of ``workers`` forked processes, or None: one worker, stored mode, or no ``fork`` on this
        platform (a spawned process would re-import everything per run: not worth it for one run)."""
        if self.workers <= 1 or self.mode != "rerate" or "fork" not in get_all_start_methods():
            return None
        return ProcessPoolExecutor(self.workers, mp_context=get_context("fork"), initializer=init_worker,
                                   initargs=(versions,))

    def execute(self) -> Outcome:
        if self.scope is None:
            self.scope = scope_for(self.db, self.tenant_id, self.period, self.stations)
            if self.workers > 1 and self.mode == "rerate":
                sliced = self._sliced()
                if sliced is not None:
                    return sliced
        versions = load_versions(self.db, self.tenant_id) if self.mode == "rerate" else {}
        init_worker(versions)  # the serial path: small runs and the chunks before the pool starts
        pool: ProcessPoolExecutor | None = None
        queued = 0  # sessions to re-rate seen so far: the pool starts once they reach ``pool_min``
        pending: deque[tuple[list[Meta], dict[str, Billing], Future[list[Rated]] | list[Rated]]] = deque()
        with paused_gc(self.mode == "rerate"):
            try:
                for rows in stream_sessions(self.db, self.tenant_id, self.period, self.stations, self.chunk,
                                            self.mode, self.no_station, self.only_kind, self.scope):
                    metas, billing, items, stored = self._read(rows)
                    if self.mode == "stored":
                        pending.append((metas, billing, stored))
                    else:
                        queued += len(items)
                        if pool is None and queued >= self.pool_min:
                            pool = self._pool(versions)
                        pending.append((metas, billing, rate_chunk(items) if pool is None
                                        else pool.submit(rate_chunk, items)))
                    while len(pending) > 2 * self.workers:
                        self._settle(*pending.popleft())
                while pending:
                    self._settle(*pending.popleft())
            finally:
                if pool is not None:
                    pool.shutdown(cancel_futures=True)
        return self.out

    def _sliced(self) -> Outcome | None:
        """Re-rate with ``workers`` processes that each read their own slices of ``start_at`` from the
        database and return their slices' sums, which are added here; None when they cannot see what this
        transaction sees (uncommitted writes, an in-memory SQLite, no ``fork``) or the run is below
        ``pool_min``: then the caller's path runs.

        Why: shipping each session from this process to a pool left this process reading, parsing and
        accounting every session (and pickling it), so a second process made the run slower. On PostgreSQL
        the workers import this transaction's snapshot (``pg_export_snapshot``): they read exactly what this
        transaction reads."""
        shared = _shared(self.db)
        if shared is None:
            return None
        url, snapshot = shared
        scope = self.scope or Scope()
        where = _conditions(self.tenant_id, self.period, self.stations, self.no_station, self.only_kind, scope)
        # equal shares of the rows by start_at (one query); a start shared by two shares goes to the later
        tiles = select(SessionRow.start_at, func.ntile(self.workers * SLICES_PER_WORKER).over(
            order_by=SessionRow.start_at).label("tile")).where(*where).subquery()
        shares = self.db.connection().execute(select(tiles.c.tile, func.min(tiles.c.start_at), func.count())
                                              .group_by(tiles.c.tile).order_by(tiles.c.tile)).all()
        if sum(count for _tile, _start, count in shares) < self.pool_min:
            return None
        edges = [None, *sorted({start for _tile, start, _count in shares[1:]}), None]
        slices = [scope.slice(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
        parts: list[Outcome] = []
        with ProcessPoolExecutor(self.workers, mp_context=get_context("fork"), initializer=_slice_worker,
                                 initargs=(url, snapshot)) as pool:
            futures = [pool.submit(_run_slice, self.tenant_id, self.period, self.stations, self.limits, self.chunk,
                                   self.no_station, self.only_kind, self.duplicates, part) for part in slices]
            for future in futures:  # in slice order: the progress count only grows
                part, settled = future.result()
                parts.append(part)
                self.settled += settled
                if self.progress is not None and settled:
                    self.progress(self.settled)
        out = merge(parts)
        if not all(_exact(part) for part in (*parts, out)):
            return None  # a sum near the decimal context's precision: only the one-process order is the answer
        self.out = out
        return out

    def _read(self, rows: list[tuple[Sequence[Any], Billing | None]]
              ) -> tuple[list[Meta], dict[str, Billing], list[RateItem], list[Rated]]:
        metas: list[Meta] = []
        billing: dict[str, Billing] = {}
        items: list[RateItem] = []
        stored: list[Rated] = []
        for row, bill in rows:
            session_id, station_id, customer_id, tariff_id, start_at = row[:5]
            if self.mode == "stored":
                doc = dict(zip(STORED_FIELDS, row[5:12], strict=True))
                energy = session_energy(doc, {"total_energy": row[15]})
            else:
                doc = row[5]
                energy = session_energy(doc)
            start = parse_instant(doc.get("start")) or repo.aware(start_at)
            if start is None or not self.period.contains(start, doc.get("time_zone")):
                continue
            if bill is not None:
                billing[session_id] = bill
            tariff_id = doc.get("tariff_id") or tariff_id
            customer = self.customers.get(doc.get("customer_id") or customer_id)
            klass = doc.get("customer_class") or (customer.customer_class if customer else None)
            ended = doc.get("end") is not None
            refused = energy is not None and not _accountable(energy)
            if refused:
                # a value no charger sends (e.g. 1e30 kWh): not rated, reported, kept out of the sums
                self._failed[session_id] = Rated(session_id, None, None, None, None, (
                    "session.energy_kwh", f"{energy} kWh is too large to account to the Wh; not rated"))
                energy = None
            meta = Meta(session_id, station_id, tariff_id, klass, ended, energy,
                        ended and not refused and not (energy is not None and energy < 0))
            metas.append(meta)
            if self.duplicates:
                self._duplicates(meta, start_at, start)
            if energy is not None and energy < 0:
                self.out.exceptions.append(exception(
                    "negative_energy", "negative_energy", meta,
                    f"Session {session_id} reports negative energy ({energy} kWh); not rated", energy_kwh=energy))
            if not meta.rateable:
                continue
            if self.mode == "stored":
                stored.append(_stored(session_id, row[12:16]))
                continue
            try:
                adjustments = self.adjustments.get(doc, customer)
            except SQLAlchemyError:
                raise
            except Exception as exc:  # noqa: BLE001 - this session only: reported as its rating failure
                self._failed[session_id] = Rated(session_id, None, None, None, None, (
                    "session", f"adjustments could not be computed ({type(exc).__name__})"))
                continue
            items.append(RateItem(session_id, doc, tariff_id, customer, adjustments))
        return metas, billing, items, stored

    def _duplicates(self, meta: Meta, start_at: Any, start: Any) -> None:
        """Rows come in start order, so a duplicate (same station, start, energy) is in the same-start window."""
        if start_at != self._start_at:
            self._same_start.clear()
            self._start_at = start_at
        if not meta.station_id or meta.energy is None:
            return
        key = (meta.station_id, start, meta.energy)
        first = self._same_start.setdefault(key, meta.session_id)
        if first != meta.session_id:
            self.out.exceptions.append(exception(
                "duplicate", "duplicate_session", meta,
                f"Session {meta.session_id} duplicates {first} (same station, start and energy)",
                duplicate_of=first, start=start.isoformat(), energy_kwh=meta.energy))

    def _settle(self, metas: list[Meta], billing: dict[str, Billing],
                rated: Future[list[Rated]] | list[Rated]) -> None:
        results = {r.session_id: r for r in (rated.result() if isinstance(rated, Future) else rated)}
        for meta in metas:
            result = results.get(meta.session_id) or self._failed.pop(meta.session_id, None)
            self._account(meta, result, billing.get(meta.session_id))
        self.settled += len(metas)
        if self.progress is not None and metas:
            self.progress(self.settled)

    def _account(self, meta: Meta, rated: Rated | None, bill: Billing | None) -> None:
        out = self.out
        if not meta.ended:
            out.open_sessions += 1
            return
        out.sessions += 1
        if rated is not None and rated.error is not None:
            field_, reason = rated.error
            out.exceptions.append(exception("rating_failure", "rating_failure", meta,
                                            f"Session {meta.session_id} could not be rated: {field_}: {reason}",
                                            field=field_, reason=reason))
        ok_rated = rated if rated is not None and rated.error is None else None
        ok = ok_rated is not None
        currency = (ok_rated.currency if ok_rated is not None else None) or (bill.currency if bill else None) \
            or self.tariff_currency.get(meta.tariff_id or "")
        klass = (ok_rated.customer_class if ok_rated is not None else None) or meta.customer_class
        group = out.groups.get((meta.station_id, meta.tariff_id, klass, currency))
        if group is None:
            group = out.groups[(meta.station_id, meta.tariff_id, klass, currency)] = Group()
        group.sessions += 1
        energy = ok_rated.energy if ok_rated is not None else meta.energy
        if energy is not None and energy > 0:
            group.energy += energy
        expected = ok_rated.amount if ok_rated is not None and ok_rated.amount is not None else ZERO
        group.expected += expected
        if bill is None:
            out.exceptions.append(exception("unbilled", "unbilled_session", meta,
                                            f"Session {meta.session_id} ended but is on no invoice",
                                            expected=expected if ok else None))
            return
        billed, paid = to_major(bill.billed, bill.currency), to_major(bill.paid, bill.currency)
        group.billed += billed
        group.paid += paid
        # a session is a mismatch when what it was billed as rated differs, not when its invoice levied VAT per rate
        as_rated = to_major(bill.billed - bill.vat_rounding, bill.currency)
        if ok and (bill.currency != currency or abs(expected - as_rated) > self.limits.mismatch_tolerance):
            out.exceptions.append(exception(
                "mismatch", "reconciliation_mismatch", meta,
                f"Session {meta.session_id}: expected {expected} {currency}, billed {billed} {bill.currency}",
                expected=expected, billed=billed, difference=expected - billed, currency=currency,
                billed_currency=bill.currency))


NARROWED = (PER_SESSION, PLAIN, OPEN)  # the kinds whose start_at and time_zone columns are the document's
SLICES_PER_WORKER = 4  # slices per worker process: a process that shares its core with others takes fewer


def _shared(db: DbSession) -> tuple[str, str | None] | None:
    """(URL, snapshot id) through which another process's connection reads what this transaction reads, or
    None: a SQLite file with no write transaction open here, or PostgreSQL in a top-level transaction that
    has written nothing (it then exports its snapshot, which the workers import)."""
    if "fork" not in get_all_start_methods() or db.new or db.dirty or db.deleted or db.in_nested_transaction():
        return None
    con = db.connection()
    url = con.engine.url
    if url.get_backend_name() == "sqlite":
        driver = con.connection.dbapi_connection
        if url.database in (None, "", ":memory:") or "memory" in str(url.query.get("mode", "")) \
                or getattr(driver, "in_transaction", True):
            return None
        return url.render_as_string(hide_password=False), None
    if url.get_backend_name() != "postgresql":
        return None
    if con.execute(text("SELECT txid_current_if_assigned()")).scalar() is not None:
        return None  # this transaction has written: no other connection can see that
    snapshot = con.execute(text("SELECT pg_export_snapshot()")).scalar()
    return url.render_as_string(hide_password=False), str(snapshot)


_SLICE_DB: dict[str, Any] = {}
SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f-]+")


def _slice_worker(url: str, snapshot: str | None) -> None:
    """Pool initializer: this process's own connection, in the parent's snapshot on PostgreSQL."""
    from connector.storage.db import make_engine

    engine = make_engine(url)
    con = engine.connect()
    if snapshot is not None:
        if not SNAPSHOT_ID.fullmatch(snapshot):
            raise ValueError(f"unexpected snapshot id {snapshot!r}")
        con = con.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        con.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # the transaction's first statement
    _SLICE_DB["con"] = con


def _run_slice(tenant_id: str, period: Period, stations: list[str] | None, limits: Thresholds, chunk: int,
               no_station: bool, only_kind: int | None, duplicates: bool, scope: Scope) -> tuple[Outcome, int]:
    """One slice in a worker process: (its sums and exceptions, sessions accounted)."""
    with DbSession(bind=_SLICE_DB["con"]) as db:
        run = Run(db, tenant_id, period, stations, limits, chunk=chunk, only_no_station=no_station,
                  only_kind=only_kind, duplicates=duplicates, scope=scope)
        return run.execute(), run.settled


def _exact(out: Outcome) -> bool:
    """Are a slice's sums well inside the decimal context's precision (then adding the slices in any order
    gives what one process adding sessions in order gives)?"""
    digits = getcontext().prec - 2
    return all(len(value.as_tuple().digits) < digits for g in out.groups.values()
               for value in (g.energy, g.expected, g.billed, g.paid))


@contextlib.contextmanager
def paused_gc(pause: bool = True) -> Iterator[None]:
    """The cyclic garbage collector paused for a re-rating run, then restored (and run once).

    Why: a run keeps a few chunks of rows alive while it allocates millions of short-lived objects, so the
    collector's generation counters fire full passes over those live rows: about a quarter of the run's
    CPU. Rating makes almost no cyclic garbage (about a hundred objects per 33,000 sessions, measured), and
    reference counting frees everything else as before; nothing the run computes depends on it."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(1)


def _accountable(energy: Decimal) -> bool:
    """Can the report hold this energy at its Wh precision (the decimal context's digits)?"""
    try:
        energy.quantize(WH)
    except ArithmeticError:
        return False
    return True


def _stored(session_id: str, values: Any) -> Rated:
    """Expected from the rating stored at billing time (``mode="stored"``)."""
    amount, currency, klass, energy = values
    if amount is None:
        return Rated(session_id, None, None, None, None, ("session.rating", "no stored rating"))
    return Rated(session_id, currency, klass, Decimal(amount), None if energy is None else Decimal(energy), None)
