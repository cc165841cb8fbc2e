"""``evbill billing interim|rerate|incentives|reconcile`` and ``evbill scheduler``: the billing triggers from a
shell or cron, calling the same functions as the API (one commit per run and tenant)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session as DbSession

from connector.commands import InputError
from connector.validation import ProblemError


def _engine(url: str | None) -> Engine:
    from connector.api import create_tables
    from connector.config import DatabaseSettings
    from connector.storage.db import make_engine

    database = DatabaseSettings.from_environ()
    engine = make_engine(url or database.url)
    if database.create_tables:
        create_tables(engine)  # like the API: convenience for SQLite; production runs `evbill db upgrade`
    return engine


def _instant(value: str | None, field: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{field}: '{value}' is not an ISO 8601 date-time") from exc
    if at.tzinfo is None:
        raise InputError(f"{field}: must carry a time zone offset (e.g. 2026-01-13T15:00:00Z)")
    return at


def _in_tenant(engine: Engine, tenant_id: str, fn: Callable[[DbSession], Any]) -> Any:
    """Run ``fn(db)`` and commit; the pinned errors become one-line input errors (exit code 2)."""
    with DbSession(engine) as db:
        try:
            result = fn(db)
            db.commit()
            return result
        except (ProblemError, ValueError) as exc:
            db.rollback()
            raise InputError(str(exc)) from exc


def _print(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def run_interim(args: argparse.Namespace) -> int:
    from connector.billing import scheduler
    from connector.billing.pricing import interim

    engine = _engine(args.url)
    at = _instant(args.as_of, "--as-of")
    if args.tenant is None:
        _print({"as_of": at.isoformat(), "emitted": scheduler.interim_tick(engine, at)})
        return 0
    results = _in_tenant(engine, args.tenant, lambda db: interim.run_interim(db, args.tenant, at, force=args.force))
    _print({"as_of": at.isoformat(), "results": results})
    return 0


def run_rerate(args: argparse.Namespace) -> int:
    from connector.billing.pricing import rerating as rerate

    engine = _engine(args.url)
    if args.sessions:
        if not args.reason:
            raise InputError("--reason: required when correcting billed sessions")
        _print(_in_tenant(engine, args.tenant, lambda db: rerate.rerate_closed(db, args.tenant, args.sessions,
                                                                               args.reason)))
        return 0
    if args.tariff is None or args.version is None:
        raise InputError("--tariff/--version: give both (open sessions), or --sessions with --reason (billed)")
    at = _instant(args.as_of, "--as-of") if args.as_of else None
    _print(_in_tenant(engine, args.tenant, lambda db: rerate.on_tariff_published(
        db, args.tenant, args.tariff, args.version, rerate.published_policy(db, args.tenant, args.tariff,
                                                                              args.version), as_of=at)))
    return 0


def run_rerate_due(args: argparse.Namespace) -> int:
    from connector.billing import scheduler

    _print({"rerated": scheduler.rerate_tick(_engine(args.url), _instant(args.as_of, "--as-of"))})
    return 0


def run_incentives(args: argparse.Namespace) -> int:
    from connector.billing.pricing import incentives

    report = _in_tenant(_engine(args.url), args.tenant,
                        lambda db: incentives.incentive_report(db, args.tenant, args.month))
    if args.format == "csv":
        sys.stdout.write(incentives.report_csv(report))
    else:
        _print(report)
    return 0


def run_reconcile(args: argparse.Namespace) -> int:
    from connector.billing import scheduler

    try:
        today = date.fromisoformat(args.today) if args.today else None
    except ValueError as exc:
        raise InputError(f"--today: '{args.today}' is not YYYY-MM-DD") from exc
    _print(scheduler.reconciliation_job(_engine(args.url), args.kind, today))
    return 0


def run_scheduler(args: argparse.Namespace) -> int:
    from connector.billing import scheduler
    from connector.config import SchedulerSettings

    try:
        sched = scheduler.build_scheduler(_engine(args.url), args.tick_minutes, args.daily_at, args.monthly_at,
                                          settings=SchedulerSettings.from_environ())
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    _add_chargepoint_poll(sched, args.url)
    print(f"evbill scheduler: interim every {args.tick_minutes} min, daily reconciliation at {args.daily_at} UTC, "
          f"monthly on day 1 at {args.monthly_at} UTC (Ctrl-C stops)", file=sys.stderr)
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


def _add_chargepoint_poll(sched: Any, url: str | None) -> None:
    """With ``CHARGEPOINT_API_USER`` set, poll ChargePoint's SOAP API every ``CHARGEPOINT_POLL_MINUTES``."""
    from apscheduler.triggers.interval import IntervalTrigger

    from connector.commands.chargepoint import scheduled_poll
    from connector.config import ChargePointApiSettings, ConfigError

    try:
        settings = ChargePointApiSettings.from_environ()
    except ConfigError as exc:
        raise InputError(str(exc)) from exc
    if settings.user:
        sched.add_job(scheduled_poll, IntervalTrigger(minutes=settings.poll_minutes, timezone=UTC),
                      args=[_engine(url), settings], id="chargepoint-import", name="ChargePoint session import")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("billing", help="billing triggers: interim, re-rating, incentive report, reconcile")
    sub = p.add_subparsers(dest="billing_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser, tenant_required: bool = True) -> None:
        q.add_argument("--url", default=None, help="database URL (default $DATABASE_URL)")
        q.add_argument("--tenant", required=tenant_required, default=None, help="tenant id")

    q = sub.add_parser("interim", help="interim figures for open sessions that are due (session.interim)")
    common(q, tenant_required=False)
    q.add_argument("--as-of", help="ISO instant (default now)")
    q.add_argument("--force", action="store_true", help="ignore the operator's interval (with --tenant)")
    q.set_defaults(func=run_interim)

    q = sub.add_parser("rerate", help="re-rate open sessions for a tariff version, or correct billed sessions")
    common(q)
    q.add_argument("--tariff", help="tariff id (open sessions)")
    q.add_argument("--version", type=int, help="published version number (open sessions)")
    q.add_argument("--as-of", help="rate ongoing sessions up to this ISO instant (default now)")
    q.add_argument("--sessions", nargs="+", help="billed session ids to correct (credit note + new lines)")
    q.add_argument("--reason", help="why billed sessions are corrected")
    q.set_defaults(func=run_rerate)

    q = sub.add_parser("rerate-due", help="re-rate open sessions of split-policy versions that just became effective")
    q.add_argument("--url", default=None, help="database URL (default $DATABASE_URL)")
    q.add_argument("--as-of", help="ISO instant (default now)")
    q.set_defaults(func=run_rerate_due)

    q = sub.add_parser("incentives", help="government incentive report of a month (for the authority)")
    common(q)
    q.add_argument("--month", required=True, help="YYYY-MM")
    q.add_argument("--format", choices=["json", "csv"], default="json")
    q.set_defaults(func=run_incentives)

    q = sub.add_parser("reconcile", help="reconcile yesterday (daily) or last month (monthly) for every tenant")
    q.add_argument("kind", choices=["daily", "monthly"])
    q.add_argument("--url", default=None, help="database URL (default $DATABASE_URL)")
    q.add_argument("--today", help="YYYY-MM-DD the run pretends to be (default today, UTC)")
    q.set_defaults(func=run_reconcile)

    s = subparsers.add_parser("scheduler", help="run interim billing and reconciliations on a schedule")
    s.add_argument("--url", default=None, help="database URL (default $DATABASE_URL)")
    s.add_argument("--tick-minutes", type=int, default=1, help="how often interim billing checks what is due")
    s.add_argument("--daily-at", default="01:00", help="UTC HH:MM of the daily reconciliation")
    s.add_argument("--monthly-at", default="02:00", help="UTC HH:MM of the monthly reconciliation (day 1)")
    s.set_defaults(func=run_scheduler)
