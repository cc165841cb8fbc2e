"""The batch path of reconciliation: stream a period's sessions, re-rate them in chunks, aggregate in Decimal.

Why streaming: a month of a large operator is millions of sessions; they are read in chunks (server-side
cursor on PostgreSQL via ``yield_per``) together with a second stream of their invoice lines in the same
order, and only the per-group sums stay in memory. Re-rating runs in this process or in a pool of worker processes
(``workers``), overlapped with reading the next chunks.

Per session: expected = the rating core's amount due now (``mode="rerate"``) or the rating stored when
the session was billed (``mode="stored"``, no re-rating: it checks invoices against ratings, not ratings
against tariffs); billed = gross of its invoice lines on non-void invoices, credit-note lines subtracting (a
mismatch compares expected with billed less the VAT its invoice restated per rate, ``vat_rounding``);
paid = each line's share of what payment platforms paid on its invoice (``connector.billing.payments``; a
partly paid invoice counts in proportion), or its gross on a paid invoice with no payments booked.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from multiprocessing import get_all_start_methods, get_context
from types import ModuleType
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

from connector.billing.anomalies import Thresholds, parse_instant, session_energy
from connector.billing.reconciliation.period import Period
from connector.billing.reconciliation.rerating import Rated, RateItem, VersionData, init_worker, rate_chunk
from connector.models import Customer
from connector.money import to_major
from connector.storage import repo
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


def _window(query: Any, tenant_id: str, period: Period, stations: list[str] | None, no_station: bool = False,
            only_kind: int | None = None) -> Any:
    lo, hi = period.utc_bounds()
    query = query.where(SessionRow.tenant_id == tenant_id, SessionRow.start_at >= lo, SessionRow.start_at < hi)
    if only_kind is not None:
        query = query.where(SessionRow.recon_kind == only_kind)
    if no_station:
        query = query.where(SessionRow.station_id.is_(None))
    elif stations is not None:
        query = query.where(SessionRow.station_id.in_(stations))
    return query.order_by(SessionRow.start_at, SessionRow.session_id)


def stream_sessions(db: DbSession, tenant_id: str, period: Period, stations: list[str] | None, chunk: int,
                    mode: str, no_station: bool = False, only_kind: int | None = None) -> Iterator[Sequence[Any]]:
    """Chunks of session rows in the period's UTC window, in (start_at, session_id) order.

    Core rows on the ORM session's connection (no ORM entity overhead). ``mode="stored"`` reads only the
    document fields it needs (JSON paths in SQL) instead of parsing every document."""
    columns: list[Any] = [SessionRow.session_id, SessionRow.station_id, SessionRow.customer_id,
                          SessionRow.tariff_id, SessionRow.start_at]
    if mode == "stored":
        columns += [SessionRow.document[f].as_string() for f in STORED_FIELDS]
        columns += [SessionRow.rating[("invoice", "amount_due")].as_string(),
                    SessionRow.rating["currency"].as_string(), SessionRow.rating["customer_class"].as_string(),
                    SessionRow.rating["total_energy"].as_string()]
    else:
        columns.append(SessionRow.document)
    query = _window(select(*columns), tenant_id, period, stations, no_station, only_kind
                    ).execution_options(yield_per=chunk)
    yield from db.connection().execute(query).partitions()


def stream_lines(db: DbSession, tenant_id: str, period: Period, stations: list[str] | None,
                 chunk: int, no_station: bool = False, only_kind: int | None = None) -> Iterator[Any]:
    """Invoice lines (non-void) of the same sessions in the same order: merged with the session stream by
    equality of (start_at, session_id), so no per-chunk lookups and no reliance on collation order."""
    received = paid_per_invoice(tenant_id)
    join = (invoice_lines.join(invoices, and_(invoices.c.tenant_id == invoice_lines.c.tenant_id,
                                              invoices.c.invoice_id == invoice_lines.c.invoice_id))
            .join(SessionRow.__table__, and_(SessionRow.tenant_id == invoice_lines.c.tenant_id,
                                            SessionRow.session_id == invoice_lines.c.session_id))
            .outerjoin(received, received.c.invoice_id == invoice_lines.c.invoice_id))
    query = _window(select(SessionRow.start_at, SessionRow.session_id, invoice_lines.c.gross, invoices.c.kind,
                           invoices.c.status, invoices.c.currency, invoices.c.amount_due, received.c.paid,
                           invoice_lines.c.vat_rounding)
                    .select_from(join)
                    .where(invoices.c.status != "void"), tenant_id, period, stations, no_station, only_kind)
    for part in db.connection().execute(query.execution_options(yield_per=chunk)).partitions():
        yield from part


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


class LineMerger:
    """Hands out each session's ``Billing`` from the ordered line stream."""

    def __init__(self, lines: Iterator[Any]) -> None:
        self.lines = lines
        self.head: Any = next(lines, None)

    def take(self, start_at: Any, session_id: str) -> Billing | None:
        billing = None
        while self.head is not None and self.head[1] == session_id and self.head[0] == start_at:
            _start, _sid, gross, kind, status, currency, due, received, rounding = self.head
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
            self.head = next(self.lines, None)
        return billing


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
                 only_kind: int | None = None, duplicates: bool = True, pool_min: int = 1) -> None:
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

    def _pool(self, versions: dict[str, list[VersionData]]) -> ProcessPoolExecutor | None:
        """A pool of ``workers`` forked processes, or None: one worker, stored mode, or no ``fork`` on this
        platform (a spawned process would re-import everything per run: not worth it for one run)."""
        if self.workers <= 1 or self.mode != "rerate" or "fork" not in get_all_start_methods():
            return None
        return ProcessPoolExecutor(self.workers, mp_context=get_context("fork"), initializer=init_worker,
                                   initargs=(versions,))

    def execute(self) -> Outcome:
        versions = load_versions(self.db, self.tenant_id) if self.mode == "rerate" else {}
        init_worker(versions)  # the serial path: small runs and the chunks before the pool starts
        pool: ProcessPoolExecutor | None = None
        queued = 0  # sessions to re-rate seen so far: the pool starts once they reach ``pool_min``
        pending: deque[tuple[list[Meta], dict[str, Billing], Future[list[Rated]] | list[Rated]]] = deque()
        lines = LineMerger(stream_lines(self.db, self.tenant_id, self.period, self.stations, self.chunk,
                                        self.no_station, self.only_kind))
        try:
            for rows in stream_sessions(self.db, self.tenant_id, self.period, self.stations, self.chunk, self.mode,
                                        self.no_station, self.only_kind):
                metas, billing, items, stored = self._read(rows, lines)
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

    def _read(self, rows: Sequence[Any], lines: LineMerger
              ) -> tuple[list[Meta], dict[str, Billing], list[RateItem], list[Rated]]:
        metas: list[Meta] = []
        billing: dict[str, Billing] = {}
        items: list[RateItem] = []
        stored: list[Rated] = []
        for row in rows:
            session_id, station_id, customer_id, tariff_id, start_at = row[:5]
            bill = lines.take(start_at, session_id)  # always: the line stream advances with every row
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
