"""A session end reads its tenant's settings and customer once, in one statement, and nothing outlives the
request: a setting changed between two session ends applies to the second (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.billing.invoicing.conftest import A, ingest, setup_tenant

STATEMENTS_PER_SESSION_END = 15  # a new session billed onto an existing draft (docs/performance.md)


@contextmanager
def statements(app: Any) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = app.extensions["evbill.engine"]

    def capture(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def test_one_statement_reads_settings_customer_thresholds_and_accounts(app, client):
    setup_tenant(client)
    ingest(client, "S-1", customer="C-1")  # the draft exists from here on
    with statements(app) as seen:
        ingest(client, "S-2", customer="C-1", start="2026-01-13T16:00:00Z", end="2026-01-13T17:00:00Z")
    lookups = [s for s in seen if s.startswith("SELECT") and any(
        f"FROM {t}" in s or f"JOIN {t}" in s for t in ("customers", "billing_settings", "anomaly_rules",
                                                         "account_mappings"))]
    assert len(lookups) == 1, lookups
    assert len(seen) <= STATEMENTS_PER_SESSION_END, seen


def test_a_customer_without_a_row_is_read_once(app, client):
    setup_tenant(client)
    ingest(client, "S-1", customer="C-NEW")
    with statements(app) as seen:
        out = ingest(client, "S-2", customer="C-NEW", start="2026-01-13T16:00:00Z", end="2026-01-13T17:00:00Z")
    assert sum("customers" in s for s in seen if s.startswith("SELECT")) == 1
    assert out["billing"]["invoice"]["customer"] == {"id": "C-NEW"}


def test_settings_changed_between_session_ends_apply_to_the_next(client):
    setup_tenant(client)
    first = ingest(client, "S-1", customer="C-1")
    assert {ln["account"] for ln in _entry(client, "S-1")["lines"]} == {"1200", "4000", "2200"}
    assert first["billing"]["invoice"]["customer"]["name"] == "Ada"
    assert client.put("/v1/ledger/accounts", json={"revenue": {"energy": "8400"}}, headers=A).status_code == 200
    assert client.put("/v1/anomaly-rules", json={"max_session_hours": "0.5"}, headers=A).status_code == 200
    r = client.patch("/v1/customers/C-1", json={"name": "Ada L."}, headers=A)
    assert r.status_code == 200, r.get_data(as_text=True)
    second = ingest(client, "S-2", customer="C-1", start="2026-01-13T16:00:00Z", end="2026-01-13T17:00:00Z")
    assert {ln["account"] for ln in _entry(client, "S-2")["lines"]} == {"1200", "8400", "2200"}
    assert second["billing"]["invoice"]["customer"]["name"] == "Ada L."
    anomalies = client.get("/v1/anomalies?session_id=S-2", headers=A).get_json()["items"]
    assert [a["rule"] for a in anomalies] == ["long_session"]


def _entry(client: Any, session_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/ledger/entries?reference={session_id}", headers=A)
    assert r.status_code == 200, r.get_data(as_text=True)
    [entry] = r.get_json()["items"]
    return entry
