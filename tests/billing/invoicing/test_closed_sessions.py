"""A billed session is closed: later events are refused (409 naming the field), never merged."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.billing.invoicing.conftest import A, end_event, ingest, setup_tenant


def _post(client: Any, event: dict[str, Any]) -> Any:
    return client.post("/v1/sessions/events", json=event, headers=A)


def _billed(client: Any, session_id: str) -> dict[str, Any]:
    got = client.get(f"/v1/sessions/{session_id}", headers=A).get_json()
    assert got["status"] == "billed"
    return got


def test_update_after_billing_is_refused_and_changes_nothing(client):
    setup_tenant(client)
    billed = ingest(client, "S-C", customer="C-1")["billing"]
    assert billed["amount_due"] == "3.57"
    before = _billed(client, "S-C")["session"]

    update = {"event_id": "S-C:late", "type": "update", "session_id": "S-C", "timestamp": "2026-01-13T16:00:00Z",
              "session": {"energy_kwh": "99", "customer_id": "C-PS"}}
    r = _post(client, update)
    assert r.status_code == 409
    assert r.headers["Content-Type"].startswith("application/problem+json")
    problem = r.get_json()
    assert problem["errors"][0]["field"] == "session_id"
    assert "billed" in problem["errors"][0]["reason"] and "credit note" in problem["errors"][0]["reason"]

    after = _billed(client, "S-C")
    assert after["session"] == before and after["session"]["energy_kwh"] == "10"
    assert after["rating"]["invoice"]["amount_due"] == "3.57"
    # the refused event was not recorded: a real correction may still use its id later
    assert _post(client, update).status_code == 409


def test_end_null_cannot_reopen_a_billed_session(client):
    setup_tenant(client)
    ingest(client, "S-R", customer="C-1")
    reopen = {"event_id": "S-R:reopen", "type": "update", "session_id": "S-R", "timestamp": "2026-01-13T16:00:00Z",
              "session": {"end": None}}
    r = _post(client, reopen)
    assert r.status_code == 409 and r.get_json()["errors"][0]["field"] == "session_id"
    got = _billed(client, "S-R")
    assert got["session"]["end"] == "2026-01-13T15:00:00Z"
    # interim billing does not pick it up as an open session again
    run = client.post("/v1/billing/interim", json={"as_of": "2026-01-13T17:00:00Z", "force": True}, headers=A)
    assert run.status_code == 200 and run.get_json()["results"] == []


def test_rerating_a_closed_session_reads_the_billed_data(client):
    setup_tenant(client)
    ingest(client, "S-X", customer="C-1")
    changed = end_event("S-X", kwh="50", customer="C-1")
    changed["event_id"] = "S-X:end-again"
    assert _post(client, changed).status_code == 409
    r = client.post("/v1/billing/corrections", json={"session_ids": ["S-X"], "reason": "tariff check"}, headers=A)
    assert r.status_code == 200, r.get_data(as_text=True)
    items = client.get("/v1/invoices", query_string={"session_id": "S-X"}, headers=A).get_json()["items"]
    assert [[ln["gross"] for ln in i["lines"]] for i in items] == [["3.57"]]


def test_exact_duplicates_stay_idempotent(client):
    setup_tenant(client)
    first = ingest(client, "S-I", customer="C-1")
    # the same event id again, and the same end under a new id (a re-sent export): duplicates, same bill
    assert ingest(client, "S-I", customer="C-1")["status"] == "duplicate"
    resent = end_event("S-I", customer="C-1")
    resent["event_id"] = "S-I:end-resent"
    r = _post(client, resent)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["status"] == "duplicate" and body["billing"]["invoice_id"] == first["billing"]["invoice_id"]
    items = client.get("/v1/invoices", query_string={"session_id": "S-I"}, headers=A).get_json()["items"]
    assert [len(i["lines"]) for i in items] == [1]


def test_a_rated_session_of_the_cli_import_is_closed_too(tmp_path):
    """``RatingOnly`` (``--tariff`` imports) keeps the rating on the session: later events are refused too."""
    import pytest

    from connector.billing.intake import DatabaseSink, SessionClosed
    from connector.models import Tariff
    from connector.models.session_event import IngestError, parse_event
    from tests.billing.invoicing.conftest import TARIFF

    sink = DatabaseSink.from_url(f"sqlite:///{tmp_path / 'rated.db'}", [Tariff.model_validate(TARIFF)])
    outcome = sink.ingest("T", parse_event(end_event("S-RO")))
    assert outcome.status == "accepted" and outcome.total_cost == Decimal("3.57")
    late = parse_event({"event_id": "S-RO:late", "type": "update", "session_id": "S-RO",
                        "timestamp": "2026-01-13T16:00:00Z", "session": {"energy_kwh": "1"}})
    with pytest.raises(SessionClosed) as refused:
        sink.ingest("T", late)
    assert isinstance(refused.value, IngestError) and refused.value.status == 409
    assert (sink.load_session("T", "S-RO") or {})["energy_kwh"] == "10"
    sink.engine.dispose()
