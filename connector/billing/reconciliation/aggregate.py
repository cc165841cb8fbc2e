"""Set-based stored reconciliation: the period's sums in one SQL ``GROUP BY``, exceptions by query.

Why: a stored reconciliation (``mode="stored"``) compares invoices with the ratings stored at billing; no
rating runs, so reading a month's sessions into Python one by one is all its cost. Here the database sums:
sessions carry their rating's amount due in minor units and its energy in 1e-6 kWh (``recon_kind`` PLAIN,
``connector.storage.session_facts``), invoice lines are minor units already, and the local-time period is
``start_at`` compared with UTC bounds computed once per time zone (``Period.local_bounds``). Only the
exceptions come back as rows (sessions whose billed amount differs from the rating, unbilled sessions,
duplicates), and the few sessions the columns cannot hold exactly (``PER_SESSION``) go through the
per-session path (``batch.Run``), whose sums are added. The result equals ``batch.Run`` in stored mode; when
an input is outside what the SQL arithmetic holds exactly, ``run_stored`` returns None and the caller runs
the per-session path for the whole period.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session as DbSession

from connector.billing.anomalies import Thresholds, parse_instant, session_energy
from connector.billing.reconciliation.batch import (
    STORED_FIELDS,
    Customers,
    Group,
    GroupKey,
    Meta,
    Outcome,
    Run,
    exception,
    local_ranges,
    merge,
    paid_per_invoice,
    zones_clause,
)
from connector.billing.reconciliation.period import Period
from connector.money import to_major
from connector.storage import repo
from connector.storage.session_facts import ENERGY_SCALE, OPEN, PER_SESSION, PLAIN, UNSUMMABLE
from connector.storage.tables.billing import invoice_lines, invoices
from connector.storage.tables.core import RECON_INDEX, SessionRow

S = SessionRow.__table__.c
L = invoice_lines.c
I = invoices.c  # noqa: E741 - the invoices' columns, as L is the lines'
KINDS = (PER_SESSION, PLAIN, OPEN, UNSUMMABLE)  # every kind: lets the queries range over the recon index
LINE_LIMIT = 2**30  # |gross| below this, |received| below 2**31, due below 2**40: share products fit a BIGINT


def period_filter(db: DbSession, tenant_id: str, period: Period, stations: list[str] | None) -> Any | None:
    """The SQL test "starts on a day of the period in its own zone", as ``start_at`` ranges per zone; None when a
    zone's period is not one interval (then the caller tests sessions one by one)."""
    zones = local_ranges(db, tenant_id, period, stations, KINDS)
    if zones is None:
        return None
    lo, hi = period.utc_bounds()
    window = [S.tenant_id == tenant_id, S.start_at >= lo, S.start_at < hi]
    if stations is not None:
        window.append(S.station_id.in_(stations))
    return and_(*window, zones_clause(zones))


def _paid_line(received: Any, signed: Any) -> Any:
    """A line's part of what its invoice received (``batch.paid_share``: in proportion, half up, exact in
    integers); a credit note, or an invoice with no payments booked, counts whole when paid."""
    product = L.gross * received
    magnitude = (2 * func.abs(product) + I.amount_due) // (2 * I.amount_due)
    return case(
        (or_(I.kind == "credit_note", received.is_(None)), case((I.status == "paid", signed), else_=0)),
        (I.amount_due <= 0, 0),
        (received == I.amount_due, L.gross),
        (_fits(received), case((product < 0, -magnitude), else_=magnitude)),
        else_=0)


def _fits(received: Any) -> Any:
    return and_(func.abs(L.gross) < LINE_LIMIT, func.abs(received) < 2 * LINE_LIMIT, I.amount_due < 2**40)


def _per_session(tenant_id: str, where: Any) -> Any:
    """One row per PLAIN session of the period: its key, rating amount and its invoice lines summed."""
    received = paid_per_invoice(tenant_id)
    paid = cast(received.c.paid, BigInteger)  # PostgreSQL's SUM(bigint) is NUMERIC: keep integer division
    signed = case((I.kind == "credit_note", -func.abs(L.gross)), else_=L.gross)
    # what the invoice's VAT per rate moved (docs/rating.md): billed - this is the session as rated
    rounding = case((I.kind == "credit_note", -L.vat_rounding), else_=L.vat_rounding)
    partial = and_(I.kind != "credit_note", paid.is_not(None), I.amount_due > 0, paid != I.amount_due)
    # sessions -> their lines (by the (tenant, session) index) -> the line's invoice unless void: flat joins, so
    # the lines are looked up per session instead of materialized; a void invoice's line has no invoice here
    source = (SessionRow.__table__
              .outerjoin(invoice_lines, and_(L.tenant_id == S.tenant_id, L.session_id == S.session_id))
              .outerjoin(invoices, and_(I.tenant_id == L.tenant_id, I.invoice_id == L.invoice_id, I.status != "void"))
              .outerjoin(received, received.c.invoice_id == I.invoice_id))
    live = I.invoice_id.is_not(None)
    return (select(S.session_id, S.station_id, S.tariff_id, S.rated_class, S.rated_currency,
                   S.due_minor, S.rated_energy,
                   func.count(I.invoice_id).label("lines"), func.sum(case((live, signed))).label("billed"),
                   func.coalesce(func.sum(case((live, signed - rounding))), 0).label("as_rated"),
                   func.sum(case((live, _paid_line(paid, signed)))).label("paid"),
                   func.min(I.currency).label("cmin"), func.max(I.currency).label("cmax"),
                   func.max(case((and_(partial, ~_fits(paid)), 1), else_=0)).label("unfit"))
            .select_from(source).where(where, S.recon_kind == PLAIN)
            # grouped in the covering index's order: the sessions are read from it, in order, without a sort
            .group_by(*(S[name] for name in RECON_INDEX))
            .subquery("per_session"))


def _sums(db: DbSession, per: Any) -> tuple[Sequence[Any], bool]:
    """Per (station, tariff, class, currency, billed currency): the sums, and whether exceptions exist."""
    p = per.c
    candidate = or_(p.lines == 0, p.cmin != p.rated_currency, p.as_rated != p.due_minor)
    rows = db.execute(select(
        p.station_id, p.tariff_id, p.rated_class, p.rated_currency, p.cmin, func.count(),
        func.sum(case((p.rated_energy > 0, p.rated_energy), else_=0)), func.sum(p.due_minor),
        func.sum(p.billed), func.sum(p.paid), func.sum(case((candidate, 1), else_=0)),
        func.max(case((p.cmin != p.cmax, 1), else_=0)), func.max(p.unfit))
        .group_by(p.station_id, p.tariff_id, p.rated_class, p.rated_currency, p.cmin)).all()
    return rows, any(r[10] for r in rows)


def _meta_rows(db: DbSession, tenant_id: str, session_ids: Sequence[str]) -> dict[str, Any]:
    """The document fields an exception names (class, energy, start) for a few sessions."""
    out: dict[str, Any] = {}
    fields = [SessionRow.document[f].as_string() for f in STORED_FIELDS]
    for i in range(0, len(session_ids), 500):
        chunk = list(session_ids[i:i + 500])
        for row in db.execute(select(S.session_id, S.station_id, S.customer_id, S.tariff_id, S.start_at, *fields,
                                     SessionRow.rating["total_energy"].as_string(),
                                     SessionRow.rating[("invoice", "amount_due")].as_string())
                              .where(S.tenant_id == tenant_id, S.session_id.in_(chunk))):
            out[row[0]] = row
    return out


class Accounting:
    """Exceptions of PLAIN and duplicate sessions, built from their documents like ``batch.Run`` does."""

    def __init__(self, db: DbSession, tenant_id: str) -> None:
        self.db, self.tenant_id = db, tenant_id
        self.customers = Customers(db, tenant_id)

    def meta(self, row: Any) -> tuple[Meta, dict[str, Any], Any]:
        session_id, station_id, customer_id, tariff_id, start_at = row[:5]
        doc = dict(zip(STORED_FIELDS, row[5:12], strict=True))
        customer = self.customers.get(doc.get("customer_id") or customer_id)
        klass = doc.get("customer_class") or (customer.customer_class if customer else None)
        energy = session_energy(doc, {"total_energy": row[12]})
        start = parse_instant(doc.get("start")) or repo.aware(start_at)
        meta = Meta(session_id, station_id, doc.get("tariff_id") or tariff_id, klass, doc.get("end") is not None,
                    energy, True)
        return meta, doc, start


def _plain_exceptions(db: DbSession, tenant_id: str, per: Any, limits: Thresholds, acc: Accounting
                      ) -> list[dict[str, Any]]:
    p = per.c
    rows = db.execute(select(p.session_id, p.rated_currency, p.lines, p.billed, p.cmin, p.as_rated).where(
        or_(p.lines == 0, p.cmin != p.rated_currency, p.as_rated != p.due_minor))).all()
    metas = _meta_rows(db, tenant_id, [r[0] for r in rows])
    out = []
    for session_id, currency, lines, billed_minor, bill_currency, as_rated in rows:
        meta, _doc, _start = acc.meta(metas[session_id])
        expected = Decimal(metas[session_id][13])
        if not lines:
            out.append(exception("unbilled", "unbilled_session", meta,
                                 f"Session {session_id} ended but is on no invoice", expected=expected))
            continue
        billed = to_major(int(billed_minor), bill_currency)
        if bill_currency != currency or abs(expected - to_major(int(as_rated), bill_currency)) > limits.mismatch_tolerance:
            out.append(exception(
                "mismatch", "reconciliation_mismatch", meta,
                f"Session {session_id}: expected {expected} {currency}, billed {billed} {bill_currency}",
                expected=expected, billed=billed, difference=expected - billed, currency=currency,
                billed_currency=bill_currency))
    return out


def _duplicates(db: DbSession, tenant_id: str, where: Any, acc: Accounting) -> list[dict[str, Any]]:
    """Sessions with the same station, start and energy as an earlier one (by session id), every kind."""
    keyed = and_(where, S.recon_kind.in_(KINDS), S.station_id.is_not(None), S.station_id != "",
                 S.energy_key.is_not(None))
    groups = (select(S.station_id, S.start_at, S.energy_key).where(keyed)
              .group_by(S.station_id, S.start_at, S.energy_key).having(func.count() > 1).subquery("dup"))
    members = db.execute(select(S.session_id, S.station_id, S.start_at, S.energy_key).join(groups, and_(
        groups.c.station_id == S.station_id, groups.c.start_at == S.start_at, groups.c.energy_key == S.energy_key))
        .where(keyed).order_by(S.start_at, S.session_id)).all()
    if not members:
        return []
    metas = _meta_rows(db, tenant_id, [m[0] for m in members])
    first: dict[tuple[Any, ...], str] = {}
    out = []
    for session_id, station_id, start_at, key in members:
        found = first.setdefault((station_id, start_at, key), session_id)
        if found == session_id:
            continue
        meta, _doc, start = acc.meta(metas[session_id])
        out.append(exception("duplicate", "duplicate_session", meta,
                             f"Session {session_id} duplicates {found} (same station, start and energy)",
                             duplicate_of=found, start=start.isoformat(), energy_kwh=meta.energy))
    return out


def run_stored(db: DbSession, tenant_id: str, period: Period, stations: list[str] | None,
               limits: Thresholds, chunk: int = 2000) -> Outcome | None:
    """The stored-mode ``Outcome`` computed in the database, or None when the per-session path must run."""
    where = period_filter(db, tenant_id, period, stations)
    if where is None:
        return None
    lo, hi = period.utc_bounds()
    window = [S.tenant_id == tenant_id, S.start_at >= lo, S.start_at < hi]
    if stations is not None:
        window.append(S.station_id.in_(stations))
    if db.execute(select(literal(1)).where(*window, S.recon_kind == UNSUMMABLE).limit(1)).first():
        return None
    per = _per_session(tenant_id, where)
    rows, has_exceptions = _sums(db, per)
    if any(r[11] or r[12] for r in rows):  # lines in two currencies, or a share too large for exact SQL
        return None
    out = Outcome()
    scale = Decimal(1).scaleb(-ENERGY_SCALE)
    for station, tariff, klass, currency, bill_currency, count, energy, due, billed, paid, *_ in rows:
        key: GroupKey = (station, tariff, klass, currency)
        group = out.groups.setdefault(key, Group())  # one row per billed currency: the sums add up
        group.sessions += count
        group.energy += Decimal(int(energy or 0)) * scale
        group.expected += to_major(int(due or 0), currency)
        if bill_currency is not None:
            group.billed += to_major(int(billed or 0), bill_currency)
            group.paid += to_major(int(paid or 0), bill_currency)
        out.sessions += count
    out.open_sessions = int(db.scalar(select(func.count()).where(where, S.recon_kind == OPEN)) or 0)
    acc = Accounting(db, tenant_id)
    if has_exceptions:
        out.exceptions.extend(_plain_exceptions(db, tenant_id, per, limits, acc))
    out.exceptions.extend(_duplicates(db, tenant_id, where, acc))
    if not db.execute(select(literal(1)).where(*window, S.recon_kind == PER_SESSION).limit(1)).first():
        return out
    rest = Run(db, tenant_id, period, stations, limits, chunk=chunk, mode="stored", only_kind=PER_SESSION,
               duplicates=False).execute()
    return merge([out, rest])

