"""Slack's daily digest on its own schedule: post every closed day's digest without waiting for the next billed
session (the adapter otherwise flushes a day only when the next ``session.billed`` arrives, so a quiet weekend
was reported on Monday).

``flush_slack_digests`` runs from ``evbill scheduler`` (job ``slack-digest``); the digest store's claim makes a
day posted once even when this job and the worker flush at the same moment.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session as DbSession

from connector.platforms import registry
from connector.platforms import settings as platform_settings
from connector.platforms.adapters import slack
from connector.platforms.sender import HttpSender, Sender
from connector.platforms.stores.digests import DigestStore
from connector.storage.tables.platforms import PlatformConfigRow

LOG = logging.getLogger("connector.billing.digests")


def _tenants(db: DbSession) -> list[str]:
    names = {str(t) for t in db.scalars(select(PlatformConfigRow.tenant_id).where(
        PlatformConfigRow.platform == slack.NAME))}
    names.update(t for t, entries in platform_settings.load_file().items() if slack.NAME in entries)
    return sorted(names)


def flush_slack_digests(engine: Engine, http: Sender | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Post the due digests of every tenant whose Slack platform is enabled in ``daily_digest`` mode."""
    sender = http or HttpSender(target="slack-digest")
    at = now or datetime.now(UTC)
    store = DigestStore(engine)
    platform = registry.get(slack.NAME)
    out: dict[str, Any] = {}
    with DbSession(engine) as db:
        configs = []
        for tenant_id in _tenants(db):
            current = platform_settings.effective(db, tenant_id, slack.NAME)
            if current.enabled:
                try:
                    configs.append((tenant_id, platform_settings.build_config(platform, current)))
                except ValueError as exc:
                    out[tenant_id] = {"error": str(exc)[:300]}
    for tenant_id, config in configs:
        if not isinstance(config, slack.SlackConfig) or config.mode != "daily_digest":
            continue
        try:
            out[tenant_id] = {"digests": slack.flush_digests(tenant_id, config, sender, store, at)}
        except Exception as exc:  # noqa: BLE001 - logged; the day stays due and the next run retries it
            LOG.warning("Slack digest of tenant %s not posted: %s", tenant_id, exc)
            out[tenant_id] = {"error": str(exc)[:300]}
    return out
