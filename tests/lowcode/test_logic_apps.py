"""Logic Apps: the ARM template (custom API + connection + Consumption workflows) and the Standard project."""

from __future__ import annotations

import json
import re

import pytest

from tests.lowcode.logicapps import Evaluator, evaluate_value, find_operation, order
from tests.paths import REPO

LOGIC = REPO / "logic_apps"
WORKFLOWS = sorted((LOGIC / "workflows").glob("*/workflow.json"))
EXPECTED = {"session-to-invoice", "daily-reconciliation", "tariff-rerating"}


def all_actions(actions: dict):
    for name, action in actions.items():
        yield name, action
        yield from all_actions(action.get("actions") or {})


@pytest.fixture(scope="module")
def template() -> dict:
    return json.loads((LOGIC / "azuredeploy.json").read_text())


def test_template_structure(template, committed_swagger):
    assert template["$schema"] == "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
    assert template["contentVersion"] == "1.0.0.0"
    kinds = [(r["type"], r["apiVersion"]) for r in template["resources"]]
    assert kinds[:2] == [("Microsoft.Web/customApis", "2016-06-01"), ("Microsoft.Web/connections", "2016-06-01")]
    assert kinds[2:5] == [("Microsoft.Logic/workflows", "2019-05-01")] * 3
    custom = template["resources"][0]["properties"]
    # embedded: the same connector as Power Automate, with the one way in a custom API has (its API key)
    assert {k: v for k, v in custom["swagger"].items() if not k.startswith("security")} == \
        {k: v for k, v in committed_swagger.items() if not k.startswith("security")}
    assert custom["swagger"]["securityDefinitions"] == {"api_key": {"type": "apiKey", "in": "header",
                                                                    "name": "X-API-Key"}}
    assert custom["connectionParameters"]["api_key"]["type"] == "securestring"
    assert custom["backendService"]["serviceUrl"] == "[parameters('apiBaseUrl')]"
    assert template["parameters"]["apiKey"]["type"] == "securestring"
    text = json.dumps(template)
    used = set(re.findall(r"parameters\('([A-Za-z0-9_]+)'\)", text)) - {"$connections"}
    workflow_params = {p for r in template["resources"][2:5] for p in r["properties"]["definition"]["parameters"]}
    assert used - workflow_params <= set(template["parameters"])
    assert used >= {"location", "customApiName", "connectionName", "apiBaseUrl", "apiKey"}


def test_standard_gets_a_v2_connection_with_access_policy_and_runtime_url(template):
    """Standard workflows need a V2 connection: kind V2, an access policy for the app's managed identity,
    and the connection runtime URL that connections.json reads from an app setting."""
    v2 = [r for r in template["resources"] if r.get("kind") == "V2"]
    assert [r["type"] for r in v2] == ["Microsoft.Web/connections"]
    policies = [r for r in template["resources"] if r["type"] == "Microsoft.Web/connections/accessPolicies"]
    assert len(policies) == 1
    assert policies[0]["name"] == "[concat(parameters('connectionName'), '-v2/', parameters('standardLogicAppPrincipalId'))]"
    assert policies[0]["dependsOn"] == ["[resourceId('Microsoft.Web/connections', concat(parameters('connectionName'), '-v2'))]"]
    identity = policies[0]["properties"]["principal"]["identity"]
    assert identity["objectId"] == "[parameters('standardLogicAppPrincipalId')]"
    assert v2[0]["condition"] == policies[0]["condition"] == "[not(empty(parameters('standardLogicAppPrincipalId')))]"
    assert "connectionRuntimeUrl" in template["outputs"]["standardConnectionRuntimeUrl"]["value"]
    connections = json.loads((LOGIC / "connections.json").read_text())["managedApiConnections"]["evbill"]
    assert connections["connectionRuntimeUrl"] == "@appsetting('EVBILL_CONNECTION_RUNTIME_URL')"
    assert connections["authentication"] == {"type": "ManagedServiceIdentity"}


def test_consumption_workflows_use_the_connection_parameter(template):
    for resource in template["resources"][2:5]:
        definition = resource["properties"]["definition"]
        assert definition["parameters"]["$connections"] == {"type": "Object", "defaultValue": {}}
        conn = resource["properties"]["parameters"]["$connections"]["value"]["evbill"]
        assert conn["connectionId"] == "[resourceId('Microsoft.Web/connections', parameters('connectionName'))]"
        for name, action in all_actions(definition["actions"]):
            if action["type"] == "ApiConnection":
                assert action["inputs"]["host"]["connection"] == {
                    "name": "@parameters('$connections')['evbill']['connectionId']"}, name
    names = {r["name"] for r in template["resources"][2:5]}
    assert names == {f"evbill-{n}" for n in EXPECTED}


def test_standard_project_layout():
    assert {p.parent.name for p in WORKFLOWS} == EXPECTED
    host = json.loads((LOGIC / "host.json").read_text())
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle.Workflows"
    connections = json.loads((LOGIC / "connections.json").read_text())
    api_id = connections["managedApiConnections"]["evbill"]["api"]["id"]
    assert "/providers/Microsoft.Web/customApis/" in api_id


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.parent.name)
def test_every_action_is_a_connector_operation(path, committed_swagger):
    workflow = json.loads(path.read_text())
    assert workflow["kind"] == "Stateful"
    definition = workflow["definition"]
    assert definition["$schema"].endswith("/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#")
    assert definition["contentVersion"] == "1.0.0.0" and len(definition["triggers"]) == 1
    names = dict(all_actions(definition["actions"]))
    api_calls = 0
    for name, action in names.items():
        assert action["type"] in {"ApiConnection", "Http", "Response", "Wait", "Until"}, name
        assert set(action.get("runAfter") or {}) <= set(names), f"{name}: runAfter names an unknown action"
        if action["type"] == "ApiConnection":
            api_calls += 1
            assert action["inputs"]["host"]["connection"] == {"referenceName": "evbill"}
            op = find_operation(committed_swagger, action["inputs"]["method"], action["inputs"]["path"])
            assert op is not None, f"{name}: {action['inputs']['method']} {action['inputs']['path']} not in connector"
            assert op["operationId"] == action["metadata"]["operationId"], name
            assert not op.get("x-ms-trigger")
    assert api_calls >= 1
    order(definition["actions"])  # runAfter is acyclic
    # every body('X') / outputs('X') names an action of this workflow; every parameters('p') is declared
    text = json.dumps(definition)
    for ref in re.findall(r"(?:body|outputs)\('([^']+)'\)", text):
        assert ref in names, f"expression refers to unknown action {ref}"
    for ref in set(re.findall(r"parameters\('([^']+)'\)", text)) - {"$connections"}:
        assert ref in definition["parameters"], ref


def test_session_to_invoice_runs_rate_ingest_invoice_receipt_finance():
    definition = json.loads((LOGIC / "workflows" / "session-to-invoice" / "workflow.json").read_text())["definition"]
    assert order(definition["actions"]) == ["Rate_a_charging_session", "Ingest_a_session_event", "List_invoices",
                                            "Finalize_an_invoice", "Send_receipt", "Notify_finance", "Response"]
    assert definition["triggers"]["When_a_session_event_arrives"]["type"] == "Request"
    recon = json.loads((LOGIC / "workflows" / "daily-reconciliation" / "workflow.json").read_text())["definition"]
    assert recon["triggers"]["Every_day"]["recurrence"]["frequency"] == "Day"
    assert recon["actions"]["Until_the_run_completes"]["type"] == "Until"


def test_expression_runtime():
    context = {"outputs": {"A": {"items": [{"id": "inv 1"}], "n": None}}, "parameters": {"u": "https://x"},
               "trigger_body": {"session": {"id": "S1"}}}
    ev = Evaluator(context)
    assert ev.evaluate("triggerBody()?['session']?['id']") == "S1"
    assert ev.evaluate("triggerBody()?['missing']?['id']") is None
    assert ev.evaluate("encodeURIComponent(first(body('A')?['items'])?['id'])") == "inv%201"
    assert ev.evaluate("not(equals(body('A')?['n'], 'running'))") is True
    assert evaluate_value("/v1/invoices/@{encodeURIComponent('a/b')}/finalize", context) == "/v1/invoices/a%2Fb/finalize"
    assert evaluate_value({"to": "@parameters('u')", "t": "s @{triggerBody()?['session']?['id']}"}, context) == \
        {"to": "https://x", "t": "s S1"}
    from datetime import UTC, datetime
    context["now"] = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    assert evaluate_value("@{formatDateTime(addDays(utcNow(), -1), 'yyyy-MM-dd')}", context) == "2026-02-28"
    with pytest.raises(ValueError, match="concat"):
        ev.evaluate("concat('a', 'b')")
