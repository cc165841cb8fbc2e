"""Tenant-scoped reads and writes of the API's tables. Every function takes ``tenant_id``: no query
here can reach another tenant's rows.

The session functions (add_event, get_session, put_session, get_rating, put_rating) keep one
session document and one rating per session id, as the ingest routes and billing intake read them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, overload

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from connector.models import Customer, Tariff
from connector.models.documents import RatedSessionJson
from connector.storage import inserts
from connector.storage.tables.core import (
    ApiKeyRow,
    CustomerRow,
    SessionEventRow,
    SessionRow,
    TariffRow,
    TariffVersionRow,
    TenantRow,
)


def _parse_dt(value: Any) -> datetime | None:
    """An instant for a DateTime column, always in UTC: SQLite stores the wall time and drops the offset,
    so a local ``22:40+01:00`` stored as is would read back as ``22:40`` UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return value.astimezone(UTC) if value.tzinfo is not None else value


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
@overload
def aware(value: datetime | None) -> datetime | None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; every stored instant is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# ----------------------------------------------------------------------------------- tenants, keys


def ensure_tenant(db: DbSession, tenant_id: str) -> None:
    """Insert the tenant row if missing; concurrent callers do not conflict (ON CONFLICT DO NOTHING)."""
    if db.get(TenantRow, tenant_id) is not None:
        return
    inserts.insert_new(db, TenantRow, {"id": tenant_id, "created_at": datetime.now(UTC)})


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(db: DbSession, tenant_id: str, name: str | None = None) -> str:
    """A new key for ``tenant_id`` (shown once; only its hash is stored)."""
    ensure_tenant(db, tenant_id)
    key = "evb_" + secrets.token_urlsafe(32)
    db.add(ApiKeyRow(tenant_id=tenant_id, key_hash=hash_key(key), prefix=key[:12], name=name))
    db.flush()
    return key


# Read-only lookups on a request's hot path take an ORM session or a plain Core connection: without an ORM
# unit of work a lookup costs about half (statements built once, bound per call).
Reader = DbSession | Connection

_KEY_TENANT = select(ApiKeyRow.tenant_id).where(ApiKeyRow.key_hash == bindparam("key_hash"),
                                                ApiKeyRow.revoked_at.is_(None))


def tenant_for_key(db: Reader, key: str) -> str | None:
    row = db.execute(_KEY_TENANT, {"key_hash": hash_key(key)}).first()
    return None if row is None else str(row[0])


# ---------------------------------------------------------------------------------------- tariffs


def tariff_json(tariff: Tariff) -> str:
    return tariff.model_dump_json(exclude_none=True)


def get_tariff_row(db: DbSession, tenant_id: str, tariff_id: str) -> TariffRow | None:
    return db.get(TariffRow, (tenant_id, tariff_id))


_TARIFF_VERSIONS = select(TariffVersionRow).where(
    TariffVersionRow.tenant_id == bindparam("tenant_id"), TariffVersionRow.tariff_id == bindparam("tariff_id")
).order_by(TariffVersionRow.version_no)


def tariff_versions(db: DbSession, tenant_id: str, tariff_id: str) -> list[TariffVersionRow]:
    return list(db.scalars(_TARIFF_VERSIONS, {"tenant_id": tenant_id, "tariff_id": tariff_id}))


# Built once: constructing the statement on every /v1/rate request was about a third of the request.
_TARIFF_DOCUMENTS = select(TariffVersionRow.document).where(
    TariffVersionRow.tenant_id == bindparam("tenant_id"), TariffVersionRow.tariff_id == bindparam("tariff_id")
).order_by(TariffVersionRow.version_no.desc())


def load_tariffs(db: Reader, tenant_id: str, tariff_id: str) -> list[Tariff] | None:
    """Every stored version of the tariff, newest first (rating picks the one valid at session start)."""
    documents = db.execute(_TARIFF_DOCUMENTS, {"tenant_id": tenant_id, "tariff_id": tariff_id}).scalars().all()
    if not documents:
        return None
    return [_parsed_tariff(doc) for doc in documents]


@lru_cache(maxsize=1024)
def _parsed_tariff(document: str) -> Tariff:
    """Parsed once per stored document text (a new version is a new text): rating also keeps its
    compiled form on the object, so the hot path skips both parsing and compiling. Read-only."""
    return Tariff.model_validate_json(document)


def create_tariff(db: DbSession, tenant_id: str, tariff: Tariff) -> TariffVersionRow:
    ensure_tenant(db, tenant_id)
    db.add(TariffRow(tenant_id=tenant_id, tariff_id=tariff.id, currency=tariff.currency, current_version=1))
    db.flush()
    version = TariffVersionRow(tenant_id=tenant_id, tariff_id=tariff.id, version_no=1,
                               effective_at=tariff.start_date_time, end_at=tariff.end_date_time,
                               document=tariff_json(tariff))
    db.add(version)
    db.flush()
    return version


def publish_version(db: DbSession, tenant_id: str, row: TariffRow, tariff: Tariff, effective_at: datetime,
                    policy: str) -> TariffVersionRow:
    """New version valid from ``effective_at``; the version valid then ends at ``effective_at``."""
    versions = tariff_versions(db, tenant_id, row.tariff_id)
    for previous in versions:
        doc = Tariff.model_validate_json(previous.document)
        if doc.valid_at(effective_at):
            doc.end_date_time = effective_at
            previous.end_at = effective_at
            previous.document = tariff_json(doc)
    tariff = tariff.model_copy(update={"id": row.tariff_id, "start_date_time": effective_at})
    number = (versions[-1].version_no if versions else 0) + 1
    version = TariffVersionRow(tenant_id=tenant_id, tariff_id=row.tariff_id, version_no=number,
                               effective_at=effective_at, end_at=tariff.end_date_time, policy=policy,
                               document=tariff_json(tariff))
    db.add(version)
    row.current_version = number
    db.flush()
    return version


# -------------------------------------------------------------------------------------- customers


def get_customer(db: DbSession, tenant_id: str, customer_id: str) -> CustomerRow | None:
    return db.get(CustomerRow, (tenant_id, customer_id))


def customer_model(row: CustomerRow) -> Customer:
    return Customer.model_validate(row.to_dict())


# --------------------------------------------------------------------------------------- sessions


def add_event(db: DbSession, tenant_id: str, event: Any) -> bool:
    """Record the event as the transaction's first write; False if (tenant, event_id) exists already.
    A Core ``INSERT`` after flushing what is pending: the event row is never read back in this transaction."""
    try:
        inserts.insert_rows(db, SessionEventRow, [{
            "tenant_id": tenant_id, "event_id": event.event_id, "session_id": event.session_id, "type": event.type,
            "source": str(event.source)[:40], "occurred_at": event.timestamp,
            "payload": json.loads(event.model_dump_json())}])
    except IntegrityError:
        db.rollback()
        return False
    return True


_SESSION_ROW = select(SessionRow).where(SessionRow.tenant_id == bindparam("tenant_id"),
                                        SessionRow.session_id == bindparam("session_id"))
_SESSION_ROW_LOCKED = _SESSION_ROW.with_for_update()


def get_session_row(db: DbSession, tenant_id: str, session_id: str, lock: bool = False) -> SessionRow | None:
    return db.scalars(_SESSION_ROW_LOCKED if lock else _SESSION_ROW,
                      {"tenant_id": tenant_id, "session_id": session_id}).first()


def get_session(db: DbSession, tenant_id: str, session_id: str) -> dict[str, Any] | None:
    row = get_session_row(db, tenant_id, session_id, lock=True)
    return None if row is None else dict(row.document)


def put_session(db: DbSession, tenant_id: str, doc: dict[str, Any], new: bool = False,
                row: SessionRow | None = None, add: bool = True) -> SessionRow:
    """Store the merged document and return its row. ``new``: the caller found no row, so insert (an
    ``IntegrityError`` when a concurrent event inserted it first: the caller merges again into that row).
    ``row``: the row the caller already holds (locked), so it is not looked up again. ``add=False``: a new
    row is returned transient, for a caller that completes it and adds it itself (billing a new session's
    ``end`` inserts its row once, billed, instead of an INSERT and an UPDATE)."""
    if not new and row is None:
        row = get_session_row(db, tenant_id, doc["id"])
    values = {
        "status": doc.get("status", "active"), "document": doc, "station_id": doc.get("station_id"),
        "customer_id": doc.get("customer_id"), "tariff_id": doc.get("tariff_id"),
        "start_at": _parse_dt(doc.get("start")), "end_at": _parse_dt(doc.get("end")),
    }
    if row is None:
        row = SessionRow(tenant_id=tenant_id, session_id=doc["id"], **values)
        if not add:
            return row
        db.add(row)
    else:
        if row.status in ("rated", "billed") and values["status"] == "ended":
            values["status"] = row.status
        for key, value in values.items():
            setattr(row, key, value)
    db.flush()
    return row


def get_rating(db: DbSession, tenant_id: str, session_id: str) -> RatedSessionJson | None:
    row = get_session_row(db, tenant_id, session_id)
    return None if row is None or row.rating is None else row.rating.copy()


def put_rating(db: DbSession, tenant_id: str, session_id: str, rating: RatedSessionJson) -> None:
    row = get_session_row(db, tenant_id, session_id)
    if row is None:
        return
    row.rating, row.status, row.updated_at = rating, "rated", datetime.now(UTC)  # the ORM derives the facts
    db.flush()
