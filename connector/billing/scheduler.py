"""Scheduled billing jobs (``evbill scheduler``): interim billing and due re-ratings every tick, daily and
monthly reconciliation, the payments catch-up and Slack's daily digests.

Why APScheduler in-process: one small long-running process next to the API, no cron or broker to run.
Each job opens its own database session and commits once per tenant, so one operator's failure never
rolls back another's. The interim tick is short (1 minute by default); each operator's
``interim_interval_minutes`` decides which sessions are due (``run_interim``). Cron alternative:
``* * * * * evbill billing interim``, ``* * * * * evbill billing rerate-due``, ``0 1 * * * evbill billing
reconcile daily`` (see docs/billing.md).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session as DbSession

from connector.billing.pricing.interim import run_interim
from connector.config import RetentionSettings, SchedulerSettings
from connector.storage.tables.core import SessionRow, TenantRow

LOG = logging.getLogger("connector.billing.scheduler")


def _tenants(db: DbSession, active_only: bool) -> list[str]:
    if active_only:
        query = select(SessionRow.tenant_id).where(SessionRow.status == "active").distinct()
    else:
        query = select(TenantRow.id)
    return sorted(str(t) for t in db.scalars(query))


def interim_tick(engine: Engine, now: datetime | None = None) -> dict[str, int]:
    """Run interim billing for every tenant with open sessions; returns emitted counts per tenant."""
    at = now or datetime.now(UTC)
    with DbSession(engine) as db:
        tenants = _tenants(db, active_only=True)
    out: dict[str, int] = {}
    for tenant_id in tenants:
        with DbSession(engine) as db:
            try:
                results = run_interim(db, tenant_id, at)
                db.commit()
            except Exception:  # noqa: BLE001 - logged; the other operators still get their run
                db.rollback()
                LOG.exception("interim billing failed for tenant %s", tenant_id)
                out[tenant_id] = -1
                continue
        out[tenant_id] = sum(1 for r in results if r["status"] == "emitted")
    return out


def rerate_tick(engine: Engine, now: datetime | None = None) -> list[dict[str, Any]]:
    """Re-rate the open sessions of split-policy versions that became effective since their last run
    (a version published ahead of time changes running sessions only from its effective time)."""
    from connector.billing.pricing import rerating as rerate

    at = now or datetime.now(UTC)
    with DbSession(engine) as db:
        due = rerate.due_versions(db, at)
    out = []
    for tenant_id, tariff_id, version_no in due:
        with DbSession(engine) as db:
            try:
                result = rerate.on_tariff_published(db, tenant_id, tariff_id, version_no,
                                                    rerate.published_policy(db, tenant_id, tariff_id, version_no),
                                                    as_of=at)
                db.commit()
            except Exception:  # noqa: BLE001 - logged; the other versions still run
                db.rollback()
                LOG.exception("re-rating of %s/%s v%s failed", tenant_id, tariff_id, version_no)
                continue
        out.append({"tenant_id": tenant_id, "tariff_id": tariff_id, "version_no": version_no,
                    "changed": result["changed"], "unchanged": result["unchanged"]})
    return out


def previous_period(kind: str, today: date) -> str:
    """The period a run on ``today`` reconciles: yesterday (daily) or last month (monthly)."""
    if kind == "daily":
        return (today - timedelta(days=1)).isoformat()
    if kind == "monthly":
        return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    raise ValueError(f"kind: '{kind}' is not daily or monthly")


def reconciliation_job(engine: Engine, kind: str, today: date | None = None) -> dict[str, Any]:
    """Reconcile the previous day/month for every tenant via ``start_reconciliation``."""
    from connector.billing.reconciliation.run import start_reconciliation as start

    period = previous_period(kind, today or datetime.now(UTC).date())
    with DbSession(engine) as db:
        tenants = _tenants(db, active_only=False)
    done: dict[str, str | None] = {}
    for tenant_id in tenants:
        with DbSession(engine) as db:
            try:
                report = start(db, tenant_id, kind, period, None)
                db.commit()
                done[tenant_id] = str(report.get("id")) if isinstance(report, dict) else None
            except Exception:  # noqa: BLE001 - logged; other tenants still reconcile
                db.rollback()
                LOG.exception("%s reconciliation of %s failed for tenant %s", kind, period, tenant_id)
                done[tenant_id] = None
    return {"period": period, "tenants": done}


def build_scheduler(engine: Engine, tick_minutes: int = 1, daily_at: str = "01:00", monthly_at: str = "02:00",
                    blocking: bool = True, settings: SchedulerSettings | None = None) -> Any:
    """The APScheduler with the jobs (UTC): interim, due re-ratings, daily and monthly reconciliation, payments
    catch-up and Slack digests (every ``EVBILL_PAYMENTS_SYNC_MINUTES``), the opt-in prune; not started.

    ``settings``: default the environment, read now (``evbill scheduler`` reads it once at start)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if tick_minutes < 1:
        raise ValueError("tick_minutes: at least 1")
    d_hour, d_minute = _hhmm(daily_at, "daily_at")
    m_hour, m_minute = _hhmm(monthly_at, "monthly_at")
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
    scheduler.add_job(interim_tick, IntervalTrigger(minutes=tick_minutes, timezone=UTC), args=[engine],
                      id="interim", name="interim billing")
    scheduler.add_job(rerate_tick, IntervalTrigger(minutes=tick_minutes, timezone=UTC), args=[engine],
                      id="rerate-due", name="re-rating of versions that just became effective")
    scheduler.add_job(reconciliation_job, CronTrigger(hour=d_hour, minute=d_minute, timezone=UTC),
                      args=[engine, "daily"], id="reconcile-daily", name="daily reconciliation")
    scheduler.add_job(reconciliation_job, CronTrigger(day=1, hour=m_hour, minute=m_minute, timezone=UTC),
                      args=[engine, "monthly"], id="reconcile-monthly", name="monthly reconciliation")
    settings = settings or SchedulerSettings.from_environ()
    if settings.payments_sync_minutes > 0:  # payments webhooks missed; Slack digests of closed days
        from connector.billing.digests import flush_slack_digests
        from connector.billing.payments.sync import sync_all

        every = IntervalTrigger(minutes=settings.payments_sync_minutes, timezone=UTC)
        scheduler.add_job(sync_all, every, args=[engine], id="payments-sync",
                          name="payments catch-up from the vendors' polling APIs")
        scheduler.add_job(flush_slack_digests, every, args=[engine], id="slack-digest",
                          name="Slack daily digests of closed days")
    prune_at = settings.outbox_prune_at
    if prune_at:  # opt-in daily outbox/idempotency retention (docs/events.md, Retention)
        from connector.events.retention import scheduled_prune

        p_hour, p_minute = _hhmm(prune_at, "EVBILL_OUTBOX_PRUNE_AT")
        retention = RetentionSettings.from_environ()  # a bad EVBILL_*_RETENTION_* fails at start-up
        scheduler.add_job(scheduled_prune, CronTrigger(hour=p_hour, minute=p_minute, timezone=UTC),
                          args=[engine, None, retention], id="outbox-prune",
                          name="outbox and idempotency-key retention")
    return scheduler


def _hhmm(value: str, field: str) -> tuple[int, int]:
    try:
        parsed = datetime.strptime(value, "%H:%M")
    except ValueError as exc:
        raise ValueError(f"{field}: '{value}' is not HH:MM") from exc
    return parsed.hour, parsed.minute
