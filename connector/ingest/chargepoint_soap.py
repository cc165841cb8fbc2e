"""ChargePoint's Web Services API (SOAP) → sessions: the scheduled importer (``evbill chargepoint import``,
``evbill scheduler``).

Why polling: ChargePoint's integration surface is the SOAP API, where ``getChargingSessionData`` returns the
sessions of a time window, a page at a time (``startRecord``, ``MoreFlag``); it has no webhook. The client is
``zeep`` built from the WSDL (``CHARGEPOINT_WSDL``), authenticated with a WS-Security UsernameToken (the
account's API license key and password).

Incremental: a cursor per tenant (``ingest_cursors``) holds the end of the last window read; the next run
asks from there. A session still running when read has no ``endTime``; the cursor then stays at its start, so
it is read again until it ends. Idempotent: each session becomes one ``end`` event with id
``chargepoint:<sessionID>:<digest of its data>`` (the same as the relay webhook), so a session read twice is
billed once. The
cursor moves only after every page was read and ingested. Docs: docs/ingest.md (ChargePoint).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session as DbSession

from connector.ingest.chargepoint import payload_to_event
from connector.models.session_event import IngestError
from connector.models.sink import SessionSink
from connector.storage import stations as store

LOG = logging.getLogger("connector.ingest.chargepoint_soap")
SOURCE = "chargepoint"
NAMESPACE = "urn:dictionary:com.chargepoint.webservices"
OK = "100"
NO_SESSIONS = "136"  # "no data found for the search criteria" in the API guide's response code table


class ChargePointApiError(RuntimeError):
    """The API answered with a responseCode other than success or no data (the cursor does not move)."""


@dataclass(slots=True)
class ImportReport:
    since: str
    until: str
    pages: int = 0
    sessions: int = 0
    accepted: int = 0
    duplicates: int = 0
    running: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    cursor: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "pages": self.pages, "sessions": self.sessions,
                "accepted": self.accepted, "duplicates": self.duplicates, "running": self.running,
                "rejected": self.rejected, "cursor": self.cursor}


class CursorStore:
    """The importer's position for one tenant, in the database."""

    def __init__(self, engine: Engine, tenant_id: str, source: str = SOURCE) -> None:
        self.engine, self.tenant_id, self.source = engine, tenant_id, source

    def get(self) -> datetime | None:
        with DbSession(self.engine) as db:
            value = store.get_cursor(db, self.tenant_id, self.source)
        return None if value is None else datetime.fromisoformat(value)

    def set(self, at: datetime) -> None:
        with DbSession(self.engine) as db:
            store.set_cursor(db, self.tenant_id, self.source, at.astimezone(UTC).isoformat())
            db.commit()


def make_service(wsdl: str, user: str, password: str, endpoint: str | None = None, timeout: float = 60.0) -> Any:
    """The zeep service proxy; ``endpoint`` overrides the WSDL's address (a regional or test server)."""
    from zeep import Client
    from zeep.transports import Transport
    from zeep.wsse.username import UsernameToken

    client = Client(wsdl, wsse=UsernameToken(user, password), transport=Transport(timeout=timeout,
                                                                                  operation_timeout=timeout))
    if not endpoint:
        return client.service
    service = next(iter(client.wsdl.services.values()))
    port = next(iter(service.ports.values()))
    return client.create_service(port.binding.name, endpoint)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal | int):
        return str(value)
    return value


def fetch_pages(service: Any, since: datetime, until: datetime) -> Iterator[list[dict[str, Any]]]:
    """Each page of ``getChargingSessionData`` for sessions started in [since, until], as plain dicts."""
    from zeep.helpers import serialize_object

    record = 1
    while True:
        response = service.getChargingSessionData(searchQuery={"fromTimeStamp": since, "toTimeStamp": until,
                                                                "startRecord": record})
        code = str(response.responseCode)
        if code == NO_SESSIONS:
            return
        if code != OK:
            raise ChargePointApiError(f"getChargingSessionData: responseCode {code}: {response.responseText}")
        rows = [{k: _plain(v) for k, v in serialize_object(row, dict).items() if v is not None}
                for row in response.ChargingSessionData or []]
        yield rows
        if not rows or int(response.MoreFlag or 0) != 1:
            return
        record += len(rows)


def run_import(service: Any, sink: SessionSink, cursors: CursorStore, tenant_id: str,
               defaults: Mapping[str, Any] | None = None, now: datetime | None = None,
               first_window: timedelta = timedelta(hours=24)) -> ImportReport:
    """One poll: read every page since the cursor, ingest each ended session once, then move the cursor."""
    until = now or datetime.now(UTC)
    since = cursors.get() or until - first_window
    report = ImportReport(since=since.isoformat(), until=until.isoformat())
    oldest_running: datetime | None = None
    for page in fetch_pages(service, since, until):
        report.pages += 1
        for row in page:
            report.sessions += 1
            if not row.get("endTime"):
                report.running += 1
                started = datetime.fromisoformat(str(row["startTime"])) if row.get("startTime") else since
                oldest_running = started if oldest_running is None else min(oldest_running, started)
                continue
            try:
                outcome = sink.ingest(tenant_id, payload_to_event(row, None, defaults))
            except IngestError as exc:
                report.rejected.append({"sessionID": str(row.get("sessionID")), "field": exc.field,
                                        "reason": exc.reason})
                LOG.warning("ChargePoint session %s rejected: %s: %s", row.get("sessionID"), exc.field, exc.reason)
                continue
            if outcome.status == "accepted":
                report.accepted += 1
            else:
                report.duplicates += 1
    cursor = until if oldest_running is None else min(until, oldest_running)
    cursors.set(cursor)
    report.cursor = cursor.isoformat()
    return report
