"""A burst of session ends against the running API, with a kill -9 in the middle, and the checks after.

``Burst`` sends one ``end`` event per session (start included, so each request bills one session) from
client threads; an answer 200/202 is an acknowledgement, anything else (connection refused or reset,
5xx, 409 while a key is leased) leaves the event unacknowledged, to be resent unchanged (same event id,
same Idempotency-Key) once the API is back. ``check_books`` then reads the database directly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from connector.storage.tables.billing import InvoiceLineRow, InvoiceRow, JournalLineRow
from connector.storage.tables.core import SessionEventRow
from tests.faults.processes import HEADERS

ACKED = (200, 202)


def end_event(run: str, index: int) -> dict[str, Any]:
    minute = index % 50
    return {"event_id": f"{run}-{index}:end", "type": "end", "session_id": f"{run}-{index}",
            "timestamp": f"2026-01-13T15:{minute:02d}:00Z",
            "session": {"start": "2026-01-13T14:00:00Z", "end": f"2026-01-13T15:{minute:02d}:00Z",
                        "energy_kwh": "10", "tariff_id": "T-EUR", "station_id": "ST-1",
                        "customer_id": f"C-{index % 20}"}}  # 20 drafts, as an operator's burst has


class Burst:
    """``count`` session ends of run ``run``; ``keys`` adds an Idempotency-Key per event."""

    def __init__(self, run: str, count: int, keys: bool, clients: int = 8) -> None:
        self.events = [end_event(run, i) for i in range(count)]
        self.keys, self.clients = keys, clients
        self.acked: set[str] = set()
        self.answers: dict[int | str, int] = {}
        self.lock = threading.Lock()
        self.base = ""

    def _send(self, event: dict[str, Any]) -> None:
        headers = {**HEADERS, **({"Idempotency-Key": f"key-{event['event_id']}"} if self.keys else {})}
        try:
            status: int | str = requests.post(self.base + "/v1/sessions/events", json=event, headers=headers,
                                              timeout=30).status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        with self.lock:
            self.answers[status] = self.answers.get(status, 0) + 1
            if status in ACKED:
                self.acked.add(event["session_id"])

    def send(self, base: str, events: list[dict[str, Any]], on_progress: Callable[[int], None] | None = None) -> None:
        """Send ``events`` once each, concurrently; ``on_progress(acknowledged)`` after every answer."""
        self.base = base

        def one(event: dict[str, Any]) -> None:
            self._send(event)
            if on_progress is not None:
                on_progress(len(self.acked))

        with ThreadPoolExecutor(self.clients) as pool:
            list(pool.map(one, events))

    def unacked(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["session_id"] not in self.acked]

    def resend_until_acked(self, base: str, within: float = 180.0) -> None:
        deadline = time.monotonic() + within
        while (todo := self.unacked()) and time.monotonic() < deadline:
            self.send(base, todo)
            if self.unacked():
                time.sleep(0.5)  # a key still leased by a killed request answers 409 + Retry-After


def lines_per_session(engine: Engine, session_ids: list[str]) -> dict[str, int]:
    with Session(engine) as db:
        rows = db.execute(select(InvoiceLineRow.session_id, func.count()).where(
            InvoiceLineRow.tenant_id == "A", InvoiceLineRow.session_id.in_(session_ids))
            .group_by(InvoiceLineRow.session_id)).all()
    found = {str(sid): int(n) for sid, n in rows}
    return {sid: found.get(sid, 0) for sid in session_ids}


def check_books(engine: Engine, burst: Burst) -> None:
    """Every session billed exactly once, every event stored once, invoices equal their lines, journal
    entries balanced, and (SQLite) the file passes ``integrity_check``."""
    ids = [e["session_id"] for e in burst.events]
    lines = lines_per_session(engine, ids)
    assert {sid for sid, n in lines.items() if n != 1} == set(), "sessions not billed exactly once"
    with Session(engine) as db:
        stored = db.scalar(select(func.count()).select_from(SessionEventRow).where(
            SessionEventRow.tenant_id == "A", SessionEventRow.session_id.in_(ids)))
        assert stored == len(ids)
        sums = {str(inv): (int(n), int(t), int(g)) for inv, n, t, g in db.execute(
            select(InvoiceLineRow.invoice_id, func.sum(InvoiceLineRow.net), func.sum(InvoiceLineRow.tax),
                   func.sum(InvoiceLineRow.gross)).where(InvoiceLineRow.tenant_id == "A")
            .group_by(InvoiceLineRow.invoice_id)).all()}
        for invoice in db.scalars(select(InvoiceRow).where(InvoiceRow.tenant_id == "A")):
            assert sums.get(invoice.invoice_id, (0, 0, 0)) == (invoice.net_total, invoice.tax_total,
                                                              invoice.gross_total), invoice.invoice_id
        unbalanced = db.execute(select(JournalLineRow.entry_id).group_by(JournalLineRow.tenant_id,
                                                                         JournalLineRow.entry_id)
                                .having(func.sum(JournalLineRow.debit) != func.sum(JournalLineRow.credit))).all()
        assert unbalanced == []
        if engine.dialect.name == "sqlite":
            assert db.execute(text("PRAGMA integrity_check")).scalar() == "ok"
