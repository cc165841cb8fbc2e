"""Trigger 3: revenue reconciliation of a day or month over a set of stations.

Expected (re-rated from the raw sessions with the rating core and the stored tariff versions) vs billed
(invoice lines) vs paid (what payment platforms paid, ``connector.billing.payments``), per station, tariff,
customer class and currency; exceptions: mismatches, unbilled ended sessions, duplicates, negative energy, rating
failures, invoices paid at a vendor for another amount than billed. The report is stored
(``reconciliations``), emitted as ``reconciliation.completed``, and each exception as one ``billing.anomaly``
(deduplicated by the anomaly's deterministic id). ``difference`` = expected - billed (positive: revenue
not yet billed). Money: Decimal strings in major units, at the currency's minor unit.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from connector.billing import anomalies
from connector.billing.reconciliation.batch import Group, Outcome, Run
from connector.billing.reconciliation.payments import paid_mismatches
from connector.billing.reconciliation.period import check_stations, parse_period
from connector.money import quantum
from connector.storage import paging, repo
from connector.storage.tables.reconciliation import ReconciliationRow
from connector.validation import NotFound

WH = Decimal("0.001")  # energy in the report: kWh to the Wh
EVENT_EXCEPTIONS = 100  # the event carries the first ones; the stored report has all


def _money(value: Decimal, currency: str | None) -> str:
    return str(value.quantize(quantum(currency)) if currency else value)


def _kwh(value: Decimal) -> str:
    return str(value.quantize(WH))


def _row(key: tuple[Any, ...], g: Group) -> dict[str, Any]:
    station, tariff, klass, currency = key
    return {"station_id": station, "tariff_id": tariff, "customer_class": klass, "currency": currency,
            "sessions": g.sessions, "energy_kwh": _kwh(g.energy), "expected": _money(g.expected, currency),
            "billed": _money(g.billed, currency), "paid": _money(g.paid, currency),
            "difference": _money(g.expected - g.billed, currency), "unpaid": _money(g.billed - g.paid, currency)}


def _sort_key(key: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if part is None else str(part) for part in key)


def summarize(out: Outcome) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Summary (one currency: its totals at the top; several: ``by_currency`` only) and the sorted rows."""
    rows = [_row(key, out.groups[key]) for key in sorted(out.groups, key=_sort_key)]
    per_currency: dict[str | None, Group] = {}
    for (_s, _t, _c, currency), g in out.groups.items():
        total = per_currency.setdefault(currency, Group())
        total.sessions += g.sessions
        total.energy += g.energy
        total.expected += g.expected
        total.billed += g.billed
        total.paid += g.paid
    by_currency = [{k: v for k, v in _row((None, None, None, c), per_currency[c]).items()
                    if k not in ("station_id", "tariff_id", "customer_class")}
                   for c in sorted(per_currency, key=lambda c: c or "")]
    named = [c for c in by_currency if c["currency"]]  # a session nothing priced has no currency and no money
    single = named[0] if len(named) == 1 else None
    summary: dict[str, Any] = {
        "currency": single["currency"] if single else None,
        "sessions": out.sessions, "open_sessions": out.open_sessions,
        "energy_kwh": _kwh(sum((g.energy for g in per_currency.values()), Decimal(0))),
        "expected": single["expected"] if single else None, "billed": single["billed"] if single else None,
        "paid": single["paid"] if single else None, "difference": single["difference"] if single else None,
        "unpaid": single["unpaid"] if single else None,
        "exceptions": dict(sorted(Counter(e["kind"] for e in out.exceptions).items())),
        "by_currency": by_currency,
    }
    return summary, rows


def reconcile(db: DbSession, tenant_id: str, kind: str, period: str, stations: list[str] | None = None, *,
              workers: int = 1, chunk: int = 2000, mode: str = "rerate", partitions: int = 1,
              emit_events: bool = True, progress: Callable[[int], None] | None = None,
              set_based: bool = True, pool_min: int = 1) -> dict[str, Any]:
    """Run, store and (by default) emit a reconciliation; returns the report. Never commits.

    ``workers``: rating processes in this transaction; ``partitions`` > 1: station shares in separate
    processes and connections (committed data only: the CLI's batch path). ``progress(n)``: sessions
    accounted so far, after every chunk (in-process runs; the CLI prints it). ``set_based``: a stored run
    sums in the database (``aggregate``); False runs the per-session path (the reference it must equal).
    ``pool_min``: the re-rating pool starts only once this many sessions are to be re-rated."""
    parsed = parse_period(kind, period)
    station_ids = check_stations(stations)
    limits = anomalies.thresholds(db, tenant_id)
    started = datetime.now(UTC)
    if partitions > 1:
        from connector.billing.reconciliation.parallel import run_partitioned

        out = run_partitioned(db, tenant_id, parsed, station_ids, limits, partitions=partitions, chunk=chunk,
                              mode=mode)
    else:
        fast = None
        if mode == "stored" and set_based:
            from connector.billing.reconciliation.aggregate import run_stored

            fast = run_stored(db, tenant_id, parsed, station_ids, limits, chunk=chunk)
        out = fast if fast is not None else Run(db, tenant_id, parsed, station_ids, limits, workers=workers,
                                                chunk=chunk, mode=mode, progress=progress,
                                                pool_min=pool_min).execute()
    out.exceptions.extend(paid_mismatches(db, tenant_id, parsed, station_ids))
    summary, rows = summarize(out)
    exceptions = sorted(out.exceptions, key=lambda e: (e["kind"], e["session_id"] or ""))
    report: dict[str, Any] = {
        "id": "rec_" + uuid.uuid4().hex[:24], "kind": kind, "period": period,
        "period_start": parsed.first.isoformat(), "period_end": parsed.last.isoformat(),
        "time_basis": "station local time (each session's time_zone)", "stations": station_ids,
        "mode": mode, "created_at": started.isoformat().replace("+00:00", "Z"),
        "summary": summary, "rows": rows, "exceptions": exceptions,
    }
    if emit_events:
        _emit(db, tenant_id, report, limits)
    db.add(ReconciliationRow(tenant_id=tenant_id, reconciliation_id=report["id"], kind=kind, period=period,
                             period_start=report["period_start"], period_end=report["period_end"],
                             stations=station_ids, summary=summary, report=report, created_at=started))
    db.flush()
    return report


def _emit(db: DbSession, tenant_id: str, report: dict[str, Any], limits: anomalies.Thresholds) -> None:
    """One ``billing.anomaly`` per new exception (ids linked back into the report), then the summary event."""
    from connector.events.outbox import emit

    for exc in report["exceptions"]:
        anomaly = _anomaly(tenant_id, exc)
        exc["anomaly_id"] = anomaly.id
        if anomaly.rule not in limits.disabled_rules:
            anomalies.record(db, tenant_id, anomaly)
    event = dict(report, exceptions=report["exceptions"][:EVENT_EXCEPTIONS])
    event["exceptions_total"] = len(report["exceptions"])
    emit(db, tenant_id, "reconciliation.completed", {"reconciliation": event})


def _anomaly(tenant_id: str, exc: dict[str, Any]) -> anomalies.Anomaly:
    """The exception as an Anomaly; keyed so a rerun over the same facts is the same anomaly."""
    details = dict(exc["details"], reconciliation_kind=exc["kind"])
    if exc["kind"] == "duplicate":
        return anomalies.duplicate_anomaly(tenant_id, exc["session_id"], details["duplicate_of"], exc["station_id"],
                                           details.get("start"), None if details.get("energy_kwh") is None
                                           else Decimal(details["energy_kwh"]))
    if exc["kind"] == "paid_mismatch":
        return anomalies.make(tenant_id, exc["rule"], None, None, exc["message"], details,
                              (details["invoice_id"], details["billed"], details["paid"]))
    key: tuple[str, ...] = (exc["session_id"] or "",)
    if exc["kind"] == "mismatch":
        key += (str(details.get("expected")), str(details.get("billed")))
    elif exc["kind"] == "rating_failure":
        key += (str(details.get("field")), str(details.get("reason")))
    return anomalies.make(tenant_id, exc["rule"], exc["session_id"], exc["station_id"], exc["message"], details, key)


# ------------------------------------------------------------------------------------ service entry points


def start_reconciliation(db: DbSession, tenant_id: str, kind: str, period: str,
                         stations: list[str] | None = None) -> dict[str, Any]:
    """Start a reconciliation: runs synchronously in the caller's transaction."""
    return reconcile(db, tenant_id, kind, period, stations)


def get_reconciliation(db: DbSession, tenant_id: str, reconciliation_id: str) -> dict[str, Any]:
    row = db.get(ReconciliationRow, (tenant_id, reconciliation_id))
    if row is None:
        raise NotFound(f"reconciliation '{reconciliation_id}' not found")
    return dict(row.report)


def list_reconciliations(db: DbSession, tenant_id: str, limit: int = 50, kind: str | None = None,
                         period_from: str | None = None, period_to: str | None = None,
                         after: str | None = None) -> list[dict[str, Any]]:
    """Runs newest first, without their rows: ``kind``, and periods overlapping [period_from, period_to]
    (local dates, inclusive); ``after`` (a run id) pages on (``UnknownCursor`` when not in the list)."""
    query = select(ReconciliationRow).where(ReconciliationRow.tenant_id == tenant_id)
    if kind:
        query = query.where(ReconciliationRow.kind == kind)
    if period_from:
        query = query.where(ReconciliationRow.period_end >= period_from)
    if period_to:
        query = query.where(ReconciliationRow.period_start <= period_to)
    query = paging.after_row(db, query, [(ReconciliationRow.created_at, True)], ReconciliationRow.reconciliation_id,
                             ReconciliationRow.tenant_id, tenant_id, after)
    return [{"id": r.reconciliation_id, "kind": r.kind, "period": r.period, "period_start": r.period_start,
             "period_end": r.period_end, "stations": r.stations, "created_at": repo.aware(r.created_at).isoformat(),
             "summary": r.summary} for r in db.scalars(query.limit(limit))]
