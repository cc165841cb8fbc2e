"""Slack's daily digest, persisted: the billed sessions of each (tenant, channel, day) and which days were posted.

Items are keyed by event id, so an outbox redelivery or a worker restart neither loses nor double-counts a
session; each day is claimed once before it is posted (see ``connector.platforms.adapters.slack``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from connector.models.documents import EventJson
from connector.storage.db import Base
from connector.storage.tables.platforms import slack_digest_items as digest_items
from connector.storage.tables.platforms import slack_digests as digests


class DigestTarget(Protocol):
    """What the store needs of a Slack config: where the digest goes and which day boundaries it keeps."""

    @property
    def target(self) -> str: ...

    @property
    def digest_time_zone(self) -> str: ...


def digest_item(event: EventJson) -> dict[str, str]:
    data = event.get("data") or {}
    session = data.get("session") or {}
    invoice: Mapping[str, Any] = data.get("invoice") or {}
    rating: Mapping[str, Any] = data.get("rating") or {}
    return {"session_id": str(session.get("id") or rating.get("session_id") or "?"),
            "station_id": str(session.get("station_id") or ""),
            "currency": str(invoice.get("currency") or rating.get("currency") or "EUR"),
            "net_total": str(invoice.get("net_total", "0")), "tax_total": str(invoice.get("tax_total", "0")),
            "amount_due": str(invoice.get("amount_due", "0")), "energy": str(rating.get("total_energy") or "0")}


class DigestStore:
    """Persistent digest accumulation (SQLite or PostgreSQL through SQLAlchemy)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        Base.metadata.create_all(engine, tables=[digest_items, digests], checkfirst=True)

    def _sent_days(self, conn: Any, tenant: str, target: str) -> set[str]:
        rows = conn.execute(select(digests.c.day).where(digests.c.tenant_id == tenant, digests.c.target == target))
        return {r[0] for r in rows}

    def add(self, event: EventJson, config: DigestTarget, now: datetime) -> bool:
        """Record a billed session for its day's digest; False when this event was already recorded."""
        tz = ZoneInfo(config.digest_time_zone)
        created = event.get("created_at")
        at = datetime.fromisoformat(created.replace("Z", "+00:00")) if created else now
        day = at.astimezone(tz).date().isoformat()
        tenant = str(event.get("tenant_id", ""))
        with self.engine.begin() as conn:
            if day in self._sent_days(conn, tenant, config.target):  # late arrival: goes into today's digest
                day = max(day, now.astimezone(tz).date().isoformat())
            try:
                conn.execute(insert(digest_items).values(tenant_id=tenant, target=config.target, day=day,
                                                         event_id=str(event["id"]),
                                                         item=json.dumps(digest_item(event))))
            except IntegrityError:
                return False
        return True

    def due(self, tenant: str, config: DigestTarget, now: datetime) -> list[tuple[date, list[dict[str, Any]]]]:
        """Closed days (before today in the digest time zone) with items and no digest sent yet."""
        today = now.astimezone(ZoneInfo(config.digest_time_zone)).date().isoformat()
        with self.engine.connect() as conn:
            done = {r[0] for r in conn.execute(select(digests.c.day).where(
                digests.c.tenant_id == tenant, digests.c.target == config.target, digests.c.status == "sent"))}
            rows = conn.execute(select(digest_items.c.day, digest_items.c.item).where(
                digest_items.c.tenant_id == tenant, digest_items.c.target == config.target,
                digest_items.c.day < today).order_by(digest_items.c.day, digest_items.c.id)).all()
        out: dict[str, list[dict[str, Any]]] = {}
        for day, item in rows:
            if day not in done:
                out.setdefault(day, []).append(json.loads(item))
        return [(date.fromisoformat(d), items) for d, items in sorted(out.items())]

    def claim(self, tenant: str, config: DigestTarget, day: date, now: datetime) -> bool:
        """Claim a day before posting. A claim left 'sending' by a crash is re-claimable (at-least-once)."""
        with self.engine.begin() as conn:
            try:
                conn.execute(insert(digests).values(tenant_id=tenant, target=config.target, day=day.isoformat(),
                                                    status="sending", claimed_at=now))
                return True
            except IntegrityError:
                pass
        with self.engine.begin() as conn:
            status = conn.execute(select(digests.c.status).where(
                digests.c.tenant_id == tenant, digests.c.target == config.target,
                digests.c.day == day.isoformat())).scalar_one()
            return status == "sending"

    def mark_sent(self, tenant: str, config: DigestTarget, day: date, now: datetime, ts: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(digests).where(
                digests.c.tenant_id == tenant, digests.c.target == config.target,
                digests.c.day == day.isoformat()).values(status="sent", sent_at=now, ts=ts))

    def release(self, tenant: str, config: DigestTarget, day: date) -> None:
        """Undo a claim after a failed post so the next run retries it."""
        with self.engine.begin() as conn:
            conn.execute(digests.delete().where(
                digests.c.tenant_id == tenant, digests.c.target == config.target,
                digests.c.day == day.isoformat(), digests.c.status == "sending"))
