"""The flows of docs/lowcode/*.md, end to end against the real API on 127.0.0.1.

Each test plays one platform: it subscribes the trigger (as turning a flow/Zap on does), calls the actions in
the documented order, runs the outbox worker, receives the signed webhook on a local receiver, verifies the
HMAC-SHA256 signature over ``timestamp.body`` independently, and unsubscribes via the Location header.
Expected money comes from the rating core (never recomputed here) and is also pinned as literals.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.events.receiver import Receiver
from tests.lowcode import harness, outputs
from tests.lowcode.logicapps import WorkflowRun
from tests.paths import REPO

TARIFF = {"id": "T-AC", "country_code": "DE", "party_id": "EVB", "currency": "EUR",
          "last_updated": "2026-01-01T00:00:00Z",
          "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]}
CUSTOMER = {"id": "C-42", "name": "Contoso Fleet", "email": "fleet@contoso.example", "locale": "de_DE",
            "tax_region": "DE", "invoice_per_session": True}


def session(session_id: str) -> dict[str, Any]:
    # 10 kWh at 0.30 EUR/kWh + 19 % VAT -> 3.00 net, 3.57 gross (357 cents)
    return {"id": session_id, "station_id": "DE*EVB*E1", "customer_id": CUSTOMER["id"], "tariff_id": TARIFF["id"],
            "start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z", "energy_kwh": "10",
            "time_zone": "Europe/Berlin", "currency": "EUR"}


def end_event(session_id: str) -> dict[str, Any]:
    """The body of POST /v1/sessions/events when a session ends (connector.models.session_event.SessionEvent)."""
    fields = {k: v for k, v in session(session_id).items() if k != "id"}
    return {"event_id": f"{session_id}:end", "type": "end", "session_id": session_id,
            "timestamp": fields["end"], "source": "test", "session": fields}


def signing() -> tuple[str, str]:
    """The header names the API signs with (from ``connector.security.hmac_sign``)."""
    from connector.security import hmac_sign

    return (getattr(hmac_sign, "SIGNATURE_HEADER", "X-Evbill-Signature"),
            getattr(hmac_sign, "TIMESTAMP_HEADER", "X-Evbill-Timestamp"))


def expected_rating(session_id: str) -> dict[str, Any]:
    from connector.models.session import Session
    from connector.models.tariff import Tariff
    from connector.rating import rate

    return rate(Session.model_validate(session(session_id)), Tariff.model_validate(TARIFF)).to_dict()


@pytest.fixture()
def api(tmp_path):
    with harness.api_server(tmp_path) as server:
        headers = {"X-API-Key": server["api_key"]}
        base = server["base_url"]
        for path, body in (("/v1/tariffs", TARIFF), ("/v1/customers", CUSTOMER)):
            response = requests.post(base + path, json=body, headers=headers, timeout=30)
            assert response.status_code in (200, 201), (path, response.status_code, response.text)
        yield server


@pytest.fixture()
def receiver():
    with Receiver() as rec:
        yield rec


def deliver(api: dict, receiver: Receiver, count: int) -> list[dict[str, Any]]:
    done = harness.run_worker_once(api["db_url"])
    assert done.returncode == 0, done.stderr
    return receiver.wait(count)


def check_event(delivery: dict, secret: str, event_type: str) -> dict[str, Any]:
    sig_header, ts_header = signing()
    assert harness.verify_signature(delivery, secret, sig_header, ts_header), delivery["headers"]
    forged = {**delivery, "body": delivery["body"] + b" "}
    assert not harness.verify_signature(forged, secret, sig_header, ts_header)
    event = harness.json_body(delivery)
    assert event["type"] == event_type and event["id"].startswith("evt_")
    return event


# ------------------------------------------------------------------------------------- Power Automate


def test_power_automate_first_billing_flow(api, receiver, committed_swagger, committed_api_properties):
    """docs/lowcode/power-automate.md: When a session is billed -> Finalize an invoice -> Get a session."""
    pa = harness.PowerAutomate(committed_swagger, committed_api_properties,
                               {"hostUrl": api["base_url"], "api_key": api["api_key"]})
    # turning the flow on subscribes the trigger
    created, location = pa.subscribe("onSessionBilled", receiver.url + "/flow/1")
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert location.startswith(api["base_url"] + "/v1/subscriptions/")

    # "Rate a charging session" prices without billing
    rated = pa.call("rateSession", body={"session": session("S-PA-0"), "tariff_id": "T-AC"})
    assert rated.status_code == 200, rated.text
    assert rated.json()["total_cost"] == {"excl_vat": "3.0000", "incl_vat": "3.5700"}

    # the charger reports the end of the session ("Ingest a session event"); the worker delivers the event
    ingested = pa.call("ingestSessionEvent", body=end_event("S-PA-1"))
    assert ingested.status_code in (200, 201, 202), ingested.text
    [delivery] = deliver(api, receiver, 1)
    assert delivery["path"] == "/flow/1"
    event = check_event(delivery, secret, "session.billed")
    assert event["data"]["rating"]["total_cost"] == expected_rating("S-PA-1")["total_cost"]
    invoice = event["data"]["invoice"]
    assert invoice["gross_total"] == "3.57" and invoice["currency"] == "EUR"
    # the event is what the trigger's output schema says, and the flow's picks read the right values
    _, schema = outputs.trigger(committed_swagger, "onSessionBilled")
    assert not list(outputs.validator(committed_swagger, schema).iter_errors(event))
    offered = outputs.outputs(committed_swagger, schema)
    assert outputs.pick(event, offered["Data", "Invoice", "Customer", "Email"]) == CUSTOMER["email"]
    assert outputs.pick(event, offered["Data", "Session", "ID"]) == "S-PA-1"
    assert outputs.pick(event, offered["Data", "Rating", "Total cost", "Incl. VAT"]) == "3.5700"
    assert outputs.pick(event, offered["Data", "Invoice", "Amount due"]) == "3.57"
    assert outputs.pick(event, offered["Data", "Lines", "Gross"]) == "3.57"

    # the flow's actions, with dynamic content from the trigger
    finalized = pa.call("finalizeInvoice", {"invoice_id": invoice["id"]})
    assert finalized.status_code == 200, finalized.text
    assert finalized.json()["number"] and finalized.json()["status"] != "draft"
    got = pa.call("getSession", {"session_id": "S-PA-1"})
    assert got.status_code == 200 and "S-PA-1" in got.text

    # turning the flow off unsubscribes via the Location header; later sessions are not delivered
    assert pa.unsubscribe(location).status_code in (200, 204)
    pa.call("ingestSessionEvent", body=end_event("S-PA-2"))
    assert harness.run_worker_once(api["db_url"]).returncode == 0
    assert len(receiver.wait(2, timeout=1.0)) == 1


# ----------------------------------------------------------------------------------------- Logic Apps


def _send(api: dict):
    def send(method: str, url: str, query: dict | None, body: Any) -> tuple[int, Any]:
        headers = {"X-API-Key": api["api_key"]} if url.startswith(api["base_url"]) else {}
        response = requests.request(method, url, params=query, json=body, headers=headers, timeout=30)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text
    return send


def workflow(name: str) -> dict:
    return json.loads((REPO / "logic_apps" / "workflows" / name / "workflow.json").read_text())


def test_logic_apps_session_to_invoice(api, receiver, committed_swagger):
    run = WorkflowRun(workflow("session-to-invoice"), committed_swagger, api["base_url"], _send(api),
                      {"receiptWebhookUrl": receiver.url + "/receipt", "financeWebhookUrl": receiver.url + "/finance"})
    result = run.run(end_event("S-LA-1"))
    assert [c[0] for c in run.calls] == ["Rate_a_charging_session", "Ingest_a_session_event", "List_invoices",
                                         "Finalize_an_invoice", "Send_receipt", "Notify_finance"]
    assert result["statusCode"] == 200 and result["body"]["invoice"]["gross_total"] == "3.57"
    receipt, finance = (harness.json_body(d) for d in receiver.wait(2))
    assert receipt["to"] == CUSTOMER["email"] and receipt["amount_due"] == "3.57"
    assert "3.57 EUR" in finance["text"] and "rated 3.5700" in finance["text"]


def logic_apps_subscribe(api: dict, op_id: str, callback_url: str) -> requests.Response:
    """A connector trigger turned on in Logic Apps, from the shipped ARM template alone: the custom API's
    backend URL + the trigger's path and method (no policies exist there), the API key from the connection's
    parameter as its security definition says, the callback URL in the x-ms-notification-url property."""
    template = json.loads((REPO / "logic_apps" / "azuredeploy.json").read_text())
    custom = next(r for r in template["resources"] if r["type"] == "Microsoft.Web/customApis")["properties"]
    connection = next(r for r in template["resources"] if r["type"] == "Microsoft.Web/connections")["properties"]
    assert custom["backendService"]["serviceUrl"] == "[parameters('apiBaseUrl')]"
    assert connection["parameterValues"]["api_key"] == "[parameters('apiKey')]"
    swagger = custom["swagger"]
    [(path, method, op)] = [(p, m, o) for p, item in swagger["paths"].items() for m, o in item.items()
                            if isinstance(o, dict) and o.get("operationId") == op_id]
    security = swagger["securityDefinitions"][next(iter(swagger["security"][0]))]
    body = {}
    for name, prop in next(p for p in op["parameters"] if p["in"] == "body")["schema"]["properties"].items():
        if prop.get("x-ms-notification-url"):
            body[name] = callback_url
        elif "default" in prop:
            body[name] = prop["default"]
    return requests.request(method.upper(), api["base_url"] + swagger["basePath"].rstrip("/") + path, json=body,
                            headers={security["name"]: api["api_key"]}, timeout=30)


def test_logic_apps_invoice_triggers(api, receiver):
    """The four invoice triggers subscribe exactly as the shipped Logic Apps definition makes them, and each
    event they receive has the typed output the designer shows (customer e-mail, totals, lines)."""
    template = json.loads((REPO / "logic_apps" / "azuredeploy.json").read_text())
    swagger = next(r for r in template["resources"] if r["type"] == "Microsoft.Web/customApis")["properties"]["swagger"]
    secrets = {}
    for op_id in ("onInvoiceFinalized", "onInvoicePaid", "onInvoiceVoided", "onCreditNoteIssued"):
        created = logic_apps_subscribe(api, op_id, f"{receiver.url}/la/{op_id}")
        assert created.status_code == 201, created.text
        assert created.headers["Location"].startswith(api["base_url"] + "/v1/subscriptions/")
        secrets[op_id] = created.json()["secret"]
    headers = {"X-API-Key": api["api_key"]}
    base = api["base_url"]
    invoices = []
    for session_id in ("S-LA-I1", "S-LA-I2"):
        ingested = requests.post(base + "/v1/sessions/events", json=end_event(session_id), headers=headers, timeout=30)
        assert ingested.status_code in (200, 201, 202), ingested.text
        listed = requests.get(base + "/v1/invoices", params={"session_id": session_id}, headers=headers, timeout=30)
        [invoice] = listed.json()["items"]
        finalized = requests.post(f"{base}/v1/invoices/{invoice['id']}/finalize", headers=headers, timeout=30)
        assert finalized.status_code == 200, finalized.text
        invoices.append(invoice["id"])
    steps = [("mark-paid", invoices[0], 200), ("credit-notes", invoices[0], 201), ("void", invoices[1], 200)]
    for step, invoice_id, status in steps:
        done = requests.post(f"{base}/v1/invoices/{invoice_id}/{step}", json={}, headers=headers, timeout=30)
        assert done.status_code == status, (step, done.text)
    deliveries = deliver(api, receiver, 5)
    by_trigger: dict[str, list[dict]] = {}
    for delivery in deliveries:
        op_id = delivery["path"].rsplit("/", 1)[1]
        _, schema = outputs.trigger(swagger, op_id)
        event = check_event(delivery, secrets[op_id], outputs.event_type(swagger, op_id))
        assert not list(outputs.validator(swagger, schema).iter_errors(event)), op_id
        offered = outputs.outputs(swagger, schema)
        assert outputs.pick(event, offered["Data", "Invoice", "Customer", "Email"]) == CUSTOMER["email"]
        by_trigger.setdefault(op_id, []).append(event)
    assert {k: len(v) for k, v in by_trigger.items()} == {"onInvoiceFinalized": 2, "onInvoicePaid": 1,
                                                          "onInvoiceVoided": 1, "onCreditNoteIssued": 1}
    assert {e["type"] for e in by_trigger["onInvoiceFinalized"]} == {"invoice.finalized"}
    paid = by_trigger["onInvoicePaid"][0]["data"]["invoice"]
    assert (paid["id"], paid["status"], paid["amount_due"]) == (invoices[0], "paid", "3.57")
    credit = by_trigger["onCreditNoteIssued"][0]["data"]["invoice"]
    assert credit["kind"] == "credit_note" and credit["credit_note_of"] == invoices[0]
    assert by_trigger["onInvoiceVoided"][0]["data"]["invoice"]["status"] == "void"
    # an event type the API does not know answers 404, naming it
    unknown = requests.post(base + "/v1/subscriptions/triggers/invoice-lost", json={"callback_url": receiver.url},
                            headers=headers, timeout=30)
    assert unknown.status_code == 404 and "invoice-lost" in unknown.json()["detail"]
    other = requests.post(base + "/v1/subscriptions/triggers/invoice-paid",
                          json={"callback_url": receiver.url, "event_types": ["session.billed"]}, headers=headers, timeout=30)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "event_types", other.text


def test_logic_apps_daily_reconciliation(api, receiver, committed_swagger):
    requests.post(api["base_url"] + "/v1/sessions/events", json=end_event("S-LA-2"),
                  headers={"X-API-Key": api["api_key"]}, timeout=30)
    run = WorkflowRun(workflow("daily-reconciliation"), committed_swagger, api["base_url"], _send(api),
                      {"reportWebhookUrl": receiver.url + "/report"}, now=datetime(2026, 1, 14, 2, 0, tzinfo=UTC))
    run.run()
    assert [c[0] for c in run.calls][:2] == ["Start_a_reconciliation", "Get_a_reconciliation"]
    [report] = (harness.json_body(d) for d in receiver.wait(1))
    assert "(2026-01-13)" in report["text"] and report["summary"]


def test_logic_apps_tariff_rerating(api, receiver, committed_swagger):
    run = WorkflowRun(workflow("tariff-rerating"), committed_swagger, api["base_url"], _send(api),
                      {"financeWebhookUrl": receiver.url + "/finance"})
    new_version = {**TARIFF, "elements": [{"price_components": [{"type": "ENERGY", "price": "0.35", "vat": "19",
                                                                 "step_size": 1}]}]}
    result = run.run({"tariff_id": "T-AC", "tariff": new_version, "effective_at": "2026-02-01T00:00:00Z",
                      "policy": "price_lock_at_start"})
    assert result["statusCode"] == 200
    assert result["body"]["current_version"] == 2
    assert [v["version_no"] for v in result["body"]["versions"]] == [1, 2]
    [note] = (harness.json_body(d) for d in receiver.wait(1))
    assert note["text"].startswith("Tariff T-AC published as version 2 from 2026-02-01T00:00:00Z")
    # the new price applies from the effective time: the rating core prices a later session at 0.35
    after = requests.post(api["base_url"] + "/v1/rate", headers={"X-API-Key": api["api_key"]}, timeout=30,
                          json={"session": {**session("S-LA-3"), "start": "2026-02-02T10:00:00Z",
                                            "end": "2026-02-02T11:00:00Z"}, "tariff_id": "T-AC"})
    assert after.status_code == 200, after.text
    assert after.json()["total_cost"] == {"excl_vat": "3.5000", "incl_vat": "4.1650"}


# --------------------------------------------------------------------------------------------- Zapier


def zap(api: dict, steps: list[dict]) -> list[dict]:
    payload = json.dumps({"authData": {"host_url": api["base_url"], "api_key": api["api_key"]}, "steps": steps})
    done = subprocess.run(["node", "scripts/run_steps.js"], cwd=REPO / "zapier", input=payload, text=True,
                          capture_output=True, timeout=120, check=False)
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for result in results:
        assert result["ok"], result
    return [r["result"] for r in results]


def test_zapier_first_zap(api, receiver):
    """docs/lowcode/zapier.md: Session Billed -> Find Invoice, plus Rate Session / Ingest Session Event."""
    target = receiver.url + "/hooks/catch/1"
    _auth, sub, rated, _ingested = zap(api, [
        {"method": "authentication.test"},
        {"method": "triggers.session_billed.operation.performSubscribe", "bundle": {"targetUrl": target}},
        {"method": "creates.rate_session.operation.perform", "bundle": {"inputData": {
            "session_id": "S-ZAP-0", "start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z",
            "energy_kwh": "10", "tariff_id": "T-AC", "customer_id": "C-42", "time_zone": "Europe/Berlin"}}},
        {"method": "creates.ingest_session_event.operation.perform", "bundle": {"inputData": {
            "event_type": "end", **{k: v for k, v in session("S-ZAP-1").items() if k not in ("id", "currency")},
            "session_id": "S-ZAP-1"}}},
    ])
    assert rated["total_cost"] == {"excl_vat": "3.0000", "incl_vat": "3.5700"}
    assert sub["location"].startswith(api["base_url"] + "/v1/subscriptions/")
    [delivery] = deliver(api, receiver, 1)
    check_event(delivery, sub["secret"], "session.billed")
    raw = {"content": delivery["body"].decode(), "headers": json.dumps(delivery["headers"])}
    events, found, _ = zap(api, [
        {"method": "triggers.session_billed.operation.perform",
         "bundle": {"cleanedRequest": json.loads(raw["content"]), "rawRequest": raw, "subscribeData": sub}},
        {"method": "searches.find_invoice.operation.perform",
         "bundle": {"inputData": {"invoice_id": json.loads(raw["content"])["data"]["invoice"]["id"]}}},
        {"method": "triggers.session_billed.operation.performUnsubscribe", "bundle": {"subscribeData": sub}},
    ])
    assert events[0]["data"]["invoice"]["gross_total"] == "3.57"
    assert found[0]["gross_total"] == "3.57"
    # a forged delivery is refused by the trigger
    forged = {**raw, "content": raw["content"] + " "}
    payload = json.dumps({"authData": {"host_url": api["base_url"], "api_key": api["api_key"]}, "steps": [
        {"method": "triggers.session_billed.operation.perform",
         "bundle": {"cleanedRequest": json.loads(forged["content"]), "rawRequest": forged, "subscribeData": sub}}]})
    done = subprocess.run(["node", "scripts/run_steps.js"], cwd=REPO / "zapier", input=payload, text=True,
                          capture_output=True, timeout=120, check=False)
    assert json.loads(done.stdout.strip().splitlines()[-1])[0]["ok"] is False


# --------------------------------------------------- what runs without the billing service (API only)


def test_power_automate_actions_and_pickers_against_the_api(api, committed_swagger, committed_api_properties):
    """Actions that only need the API, built from the connector exactly as the platform sends them."""
    pa = harness.PowerAutomate(committed_swagger, committed_api_properties,
                               {"hostUrl": api["base_url"], "api_key": api["api_key"]})
    # pickers: the designer calls the list operation named in x-ms-dynamic-values and reads value-collection
    for name, op_id in (("tariff_id", "listTariffs"), ("customer_id", "listCustomers")):
        pick = committed_swagger["definitions"]["Session"]["properties"][name]["x-ms-dynamic-values"]
        assert pick["operationId"] == op_id
        listed = pa.call(op_id)
        assert listed.status_code == 200, listed.text
        values = [item[pick["value-path"]] for item in listed.json()[pick["value-collection"]]]
        assert values == [TARIFF["id"] if name == "tariff_id" else CUSTOMER["id"]]
    rated = pa.call("rateSession", body={"session": session("S-PA-R"), "tariff_id": "T-AC"})
    assert rated.status_code == 200, rated.text
    # the reconciliation picker of "Get a reconciliation" lists runs, paging by the next link
    for period in ("2026-01-12", "2026-01-13"):
        assert pa.call("startReconciliation", body={"kind": "daily", "period": period}).status_code == 201
    pick = next(p for p in pa.ops["getReconciliation"][2]["parameters"] if p["name"] == "reconciliation_id")
    pick = pick["x-ms-dynamic-values"]
    first = pa.call(pick["operationId"], {"limit": 1}).json()
    second = pa.http.get(first["next"], headers=pa.headers(), timeout=30).json()
    titles = [item[pick["value-title"]] for page in (first, second) for item in page[pick["value-collection"]]]
    assert titles == ["2026-01-13", "2026-01-12"] and "next" not in second
    assert rated.json()["total_cost"] == expected_rating("S-PA-R")["total_cost"] == \
        {"excl_vat": "3.0000", "incl_vat": "3.5700"}
    batch = pa.call("rateBatch", body={"sessions": [session("S-PA-B1"), session("S-PA-B2")], "tariff_id": "T-AC"})
    assert batch.status_code == 200, batch.text
    assert "3.5700" in batch.text
    start = {"event_id": "S-PA-S:start", "type": "start", "session_id": "S-PA-S",
             "timestamp": "2026-01-13T14:00:00Z", "session": {k: v for k, v in session("S-PA-S").items()
                                                              if k not in ("id", "end", "energy_kwh")}}
    ingested = pa.call("ingestSessionEvent", body=start)
    assert ingested.status_code == 202, ingested.text
    assert pa.call("ingestSessionEvent", body=start).status_code == 200  # the same event again: a duplicate
    got = pa.call("getSession", {"session_id": "S-PA-S"})
    assert got.status_code == 200 and got.json()["status"] == "active"
    missing = pa.call("getSession", {"session_id": "nope"})
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("application/problem+json")
    assert harness.PowerAutomate(committed_swagger, committed_api_properties,
                                 {"hostUrl": api["base_url"], "api_key": "wrong"}).call("listTariffs").status_code == 401


def test_zapier_auth_dropdowns_and_creates_against_the_api(api):
    auth, tariffs, customers, rated, started = zap(api, [
        {"method": "authentication.test"},
        {"method": "triggers.tariff_list.operation.perform"},
        {"method": "triggers.customer_list.operation.perform"},
        {"method": "creates.rate_session.operation.perform", "bundle": {"inputData": {
            "session_id": "S-ZAP-R", "start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z",
            "energy_kwh": "10", "tariff_id": "T-AC", "customer_id": "C-42", "time_zone": "Europe/Berlin"}}},
        {"method": "creates.ingest_session_event.operation.perform", "bundle": {"inputData": {
            "event_type": "start", "session_id": "S-ZAP-S", "start": "2026-01-13T14:00:00Z",
            "tariff_id": "T-AC", "customer_id": "C-42", "station_id": "DE*EVB*E1"}}},
    ])
    assert [t["id"] for t in tariffs] == ["T-AC"] and [c["name"] for c in customers] == ["Contoso Fleet"]
    assert rated["total_cost"] == {"excl_vat": "3.0000", "incl_vat": "3.5700"}
    assert started["status"] == "accepted" and started["event_id"] == "S-ZAP-S:start"
    payload = json.dumps({"authData": {"host_url": api["base_url"], "api_key": "wrong"},
                          "steps": [{"method": "authentication.test"}]})
    done = subprocess.run(["node", "scripts/run_steps.js"], cwd=REPO / "zapier", input=payload, text=True,
                          capture_output=True, timeout=120, check=False)
    [result] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"] is False and "refused the credentials (401)" in result["error"]
