"""The OCPP station registry and importer cursors: plain reads and writes (hashing is ``security``'s)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from connector.storage.tables.ingest import IngestCursorRow, OcppStationRow

PROFILES = (1, 2, 3)


def get_station(db: DbSession, tenant_id: str, station_id: str) -> OcppStationRow | None:
    return db.get(OcppStationRow, (tenant_id, station_id))


def list_stations(db: DbSession, tenant_id: str) -> list[OcppStationRow]:
    query = select(OcppStationRow).where(OcppStationRow.tenant_id == tenant_id).order_by(OcppStationRow.station_id)
    return list(db.scalars(query))


def add_station(db: DbSession, tenant_id: str, station_id: str, profile: int, password_hash: str | None,
                session_fields: dict[str, Any] | None = None) -> OcppStationRow:
    row = OcppStationRow(tenant_id=tenant_id, station_id=station_id, security_profile=profile,
                         password_hash=password_hash, session_fields=dict(session_fields or {}),
                         password_changed_at=datetime.now(UTC) if password_hash else None)
    db.add(row)
    return row


def remove_station(db: DbSession, tenant_id: str, station_id: str) -> bool:
    row = get_station(db, tenant_id, station_id)
    if row is None:
        return False
    db.delete(row)
    return True


def set_password_hash(db: DbSession, tenant_id: str, station_id: str, password_hash: str) -> bool:
    row = get_station(db, tenant_id, station_id)
    if row is None:
        return False
    row.password_hash = password_hash
    row.password_changed_at = datetime.now(UTC)
    row.rotation_requested_at = None
    return True


def request_rotation(db: DbSession, tenant_id: str, station_id: str) -> bool:
    row = get_station(db, tenant_id, station_id)
    if row is None:
        return False
    row.rotation_requested_at = datetime.now(UTC)
    return True


def rotations_requested(db: DbSession, tenant_id: str) -> list[str]:
    query = select(OcppStationRow.station_id).where(OcppStationRow.tenant_id == tenant_id,
                                                    OcppStationRow.rotation_requested_at.is_not(None))
    return sorted(db.scalars(query))


def get_cursor(db: DbSession, tenant_id: str, source: str) -> str | None:
    row = db.get(IngestCursorRow, (tenant_id, source))
    return None if row is None else row.cursor


def set_cursor(db: DbSession, tenant_id: str, source: str, cursor: str) -> None:
    row = db.get(IngestCursorRow, (tenant_id, source))
    if row is None:
        db.add(IngestCursorRow(tenant_id=tenant_id, source=source, cursor=cursor))
    else:
        row.cursor = cursor
