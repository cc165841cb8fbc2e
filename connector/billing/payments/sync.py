"""``evbill payments sync``: the scheduled catch-up that reads the vendors' polling APIs and books what webhooks
missed (or, for Plaid Transfer, what only polling reports).

Per tenant and platform: read from the stored cursor, settle each event through the same path a webhook takes
(the vendor's event id dedupes it against webhooks already received), store the new cursor. One transaction per
(tenant, platform): the caller commits, so a failed poll leaves the cursor where it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session as DbSession

from connector.billing.payments import paypal, plaid, square, stripe, xero
from connector.billing.payments.inbound import VendorContext, load_cursor, save_cursor, settle
from connector.platforms import registry
from connector.platforms import settings as platform_settings
from connector.platforms.sender import HttpSender, Sender
from connector.storage.tables.platforms import PlatformConfigRow

LOG = logging.getLogger("connector.billing.payments.sync")
# The payment platforms with a polling API this product reads (docs/platforms/payments.md).
POLLERS: dict[str, ModuleType] = {m.NAME: m for m in (stripe, square, xero, paypal, plaid)}


def sync_platform(db: DbSession, tenant_id: str, name: str, http: Sender,
                  now: Callable[[], datetime] | None = None) -> dict[str, Any]:
    """Poll one platform for one tenant from its cursor; never commits."""
    module = POLLERS[name]
    platform = registry.get(name)
    config = platform_settings.build_config(platform, platform_settings.effective(db, tenant_id, name))
    ctx = VendorContext(db, tenant_id, config, http, now or (lambda: datetime.now(UTC)))
    handled, cursor = module.poll(ctx, load_cursor(db, tenant_id, name))
    outcomes = [settle(db, tenant_id, name, h) for h in handled]
    if cursor is not None:
        save_cursor(db, tenant_id, name, cursor)
    booked = [r for o in outcomes for r in o.get("results", [])
              if r.get("outcome") in ("paid", "partial", "reversed", "duplicate", "failed_attempt")]
    return {"tenant_id": tenant_id, "platform": name, "events": len(handled), "booked": len(booked),
            "cursor": cursor}


def due(db: DbSession, platforms: list[str] | None = None) -> list[tuple[str, str]]:
    """(tenant, platform) pairs to poll: the enabled payment platforms of every tenant (rows and file)."""
    names = [n for n in POLLERS if platforms is None or n in platforms]
    pairs = {(str(t), str(p)) for t, p in db.execute(select(PlatformConfigRow.tenant_id, PlatformConfigRow.platform)
                                                       .where(PlatformConfigRow.platform.in_(names)))}
    for tenant, entries in platform_settings.load_file().items():
        pairs.update((tenant, p) for p in entries if p in names)
    return sorted((t, p) for t, p in pairs if platform_settings.effective(db, t, p).enabled)


def sync_all(engine: Engine, http: Sender | None = None, platforms: list[str] | None = None,
             tenants: list[str] | None = None, now: Callable[[], datetime] | None = None) -> list[dict[str, Any]]:
    """Poll every enabled payment platform of every tenant, one transaction each; a failure is logged and
    reported (``error``) and the others still run. The scheduler's ``payments-sync`` job."""
    sender = http or HttpSender(target="payments-sync")
    with DbSession(engine) as db:
        pairs = [(t, p) for t, p in due(db, platforms) if tenants is None or t in tenants]
    out = []
    for tenant_id, name in pairs:
        with DbSession(engine) as db:
            try:
                out.append(sync_platform(db, tenant_id, name, sender, now))
                db.commit()
            except Exception as exc:  # noqa: BLE001 - logged; the other tenants and platforms still sync
                db.rollback()
                LOG.warning("payments sync of %s for tenant %s failed: %s", name, tenant_id, exc)
                out.append({"tenant_id": tenant_id, "platform": name, "error": str(exc)[:300]})
    return out
