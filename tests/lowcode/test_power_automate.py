"""The Power Automate custom connector: generated, schema-valid, and certification-quality."""

from __future__ import annotations

import copy
import json
import re
import struct
import zlib

import pytest
import yaml
from jsonschema import Draft4Validator, Draft7Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator

from tests.lowcode.conftest import FIXTURE_SPEC, spec_in_force
from tests.paths import REPO

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
REQUIRED_ACTIONS = ["rateSession", "rateBatch", "ingestSessionEvent", "getSession", "listInvoices",
                    "finalizeInvoice", "voidInvoice", "createCreditNote", "startReconciliation",
                    "getReconciliation", "publishTariffVersion"]
REQUIRED_TRIGGERS = {"session.billed", "session.interim", "reconciliation.completed", "billing.anomaly",
                     "session.rerated", "invoice.finalized", "invoice.paid", "invoice.voided", "credit_note.issued"}


def operations(swagger: dict):
    for path, item in swagger["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def schema_problems(schema: dict, where: str, definitions: dict, seen: set) -> list[str]:
    """Every property a user sees needs a title (x-ms-summary) and a description."""
    problems: list[str] = []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name not in definitions:
            return [f"{where}: $ref to missing definition {name}"]
        if name not in seen:
            seen.add(name)
            problems += schema_problems(definitions[name], f"definitions/{name}", definitions, seen)
        return problems
    for pname, prop in (schema.get("properties") or {}).items():
        if "x-ms-summary" not in prop:
            problems.append(f"{where}.{pname}: no x-ms-summary")
        if not prop.get("description"):
            problems.append(f"{where}.{pname}: no description")
        problems += schema_problems(prop, f"{where}.{pname}", definitions, seen)
    if isinstance(schema.get("items"), dict):
        problems += schema_problems(schema["items"], f"{where}[]", definitions, seen)
    return problems


def certification_problems(swagger: dict, props: dict) -> list[str]:
    """The Power Platform certification checklist, as far as it can be read off the files."""
    problems: list[str] = []
    info = swagger["info"]
    if len(info.get("description", "")) < 30 or info.get("description") == info["title"]:
        problems.append("info.description: must be a real sentence, different from the title")
    if "contact" not in info or not {"name", "url", "email"} <= set(info["contact"]):
        problems.append("info.contact: name, url and email are required")
    meta = {m["propertyName"] for m in swagger.get("x-ms-connector-metadata", [])}
    for needed in ("Website", "Privacy policy", "Categories"):
        if needed not in meta:
            problems.append(f"x-ms-connector-metadata: {needed} is missing")
    if re.search(r"localhost|127\.0\.0\.1", swagger["host"]) or swagger.get("schemes") != ["https"]:
        problems.append("host/schemes: must be a public https host (set per environment by policy)")
    seen_ids: set[str] = set()
    definitions = swagger.get("definitions", {})
    for path, method, op in operations(swagger):
        where = f"{method.upper()} {path}"
        op_id = op.get("operationId", "")
        if not re.fullmatch(r"[a-z][A-Za-z0-9]*", op_id):
            problems.append(f"{where}: operationId {op_id!r} is not camelCase")
        if op_id in seen_ids:
            problems.append(f"{where}: operationId {op_id} repeated")
        seen_ids.add(op_id)
        summary, description = op.get("summary", ""), op.get("description", "")
        if not summary or len(summary) > 80 or summary.endswith(".") or not summary[0].isupper():
            problems.append(f"{op_id}: summary {summary!r} must be short, capitalised, without a trailing period")
        if not re.fullmatch(r"[A-Za-z0-9 ()\-,'/]+", summary or "-"):
            problems.append(f"{op_id}: summary {summary!r} has characters the designer does not allow")
        if not description.endswith(".") or description.rstrip(".") == summary:
            problems.append(f"{op_id}: description must be a sentence different from the summary")
        if op.get("x-ms-visibility") not in ("important", "advanced", "internal"):
            problems.append(f"{op_id}: x-ms-visibility missing")
        for param in op.get("parameters", []):
            pwhere = f"{op_id}.{param.get('name')}"
            for key in ("x-ms-summary", "description", "x-ms-visibility"):
                if not param.get(key):
                    problems.append(f"{pwhere}: {key} missing")
            if param.get("x-ms-visibility") == "internal" and param.get("required") and "default" not in param \
                    and param["in"] != "body":
                problems.append(f"{pwhere}: internal required parameter needs a default")
            if param["in"] == "path" and param.get("x-ms-url-encoding") != "single":
                problems.append(f"{pwhere}: path parameter needs x-ms-url-encoding single")
            if param["in"] == "body":
                problems += schema_problems(param["schema"], pwhere, definitions, set())
        for code, response in op.get("responses", {}).items():
            if not response.get("description"):
                problems.append(f"{op_id}.responses.{code}: description missing")
            if "schema" in response:
                problems += schema_problems(response["schema"], f"{op_id}.responses.{code}", definitions, set())
        for name, pick in _dynamic_values(op):
            if pick["operationId"] not in seen_ids | {o["operationId"] for _, _, o in operations(swagger)}:
                problems.append(f"{op_id}.{name}: picker operation {pick['operationId']} not in the connector")
        if op.get("x-ms-trigger"):
            problems += trigger_problems(swagger, path, method, op, props)
    return problems


def _dynamic_values(node, name: str = ""):
    if isinstance(node, dict):
        if "x-ms-dynamic-values" in node:
            yield name, node["x-ms-dynamic-values"]
        for key, value in node.items():
            yield from _dynamic_values(value, key if key not in ("properties", "schema", "items") else name)
    elif isinstance(node, list):
        for value in node:
            yield from _dynamic_values(value, value.get("name", name) if isinstance(value, dict) else name)


def trigger_problems(swagger: dict, path: str, method: str, op: dict, props: dict) -> list[str]:
    op_id = op["operationId"]
    problems = []
    if op["x-ms-trigger"] != "single":
        problems.append(f"{op_id}: webhook triggers are x-ms-trigger single")
    if "x-ms-notification-content" not in swagger["paths"][path]:
        problems.append(f"{op_id}: x-ms-notification-content (the event schema) missing on the path")
    body = [p for p in op.get("parameters", []) if p["in"] == "body"]
    flagged = [(n, s) for n, s in (body[0]["schema"].get("properties", {}) if body else {}).items()
               if s.get("x-ms-notification-url") is True]
    if len(flagged) != 1 or flagged[0][0] != "callback_url" or flagged[0][1].get("x-ms-visibility") != "internal":
        problems.append(f"{op_id}: exactly callback_url must carry x-ms-notification-url, internal")
    created = op.get("responses", {}).get("201", {})
    if "Location" not in created.get("headers", {}):
        problems.append(f"{op_id}: 201 must return the Location header the platform unsubscribes with")
    deletes = [o for p, m, o in operations(swagger) if m == "delete" and "subscription" in p]
    if not deletes:
        problems.append(f"{op_id}: no DELETE operation for the subscription (unsubscribe)")
    routes = [t for t in props["properties"].get("policyTemplateInstances", [])
              if t["templateId"] == "routerequesttoendpoint"
              and op_id in t["parameters"].get("x-ms-apimTemplate-operationName", [])]
    if routes:
        # Logic Apps' custom APIs apply no policies: a routed trigger would subscribe on a path the API lacks
        problems.append(f"{op_id}: routed by a policy; the trigger path must be one the API serves")
    return problems


def api_properties_problems(props: dict, schema: dict) -> list[str]:
    """paconn's schema (2024-10) predates connectionParameterSets: validate the sets' parameters against
    its connection-parameter definitions, and everything else against the whole schema."""
    problems = []
    body = copy.deepcopy(props)
    sets = body["properties"].pop("connectionParameterSets", None)
    for error in Draft7Validator(schema).iter_errors(body):
        problems.append(f"apiProperties {list(error.absolute_path)}: {error.message[:200]}")
    params_schema = {**schema["properties"]["properties"]["properties"]["connectionParameters"],
                     "definitions": schema["definitions"]}
    if sets is not None:
        if set(sets) != {"uiDefinition", "values"} or not sets["values"]:
            problems.append("connectionParameterSets: needs uiDefinition and values")
        for item in sets.get("values", []):
            if not item.get("name") or not item.get("uiDefinition", {}).get("displayName"):
                problems.append("connectionParameterSets: every set needs a name and a displayName")
            for error in Draft7Validator(params_schema).iter_errors(item.get("parameters", {})):
                problems.append(f"set {item.get('name')} {list(error.absolute_path)}: {error.message[:200]}")
    return problems


# -------------------------------------------------------------------------------------------- tests


def test_committed_files_are_the_generated_ones(gen, overlay):
    """The committed connector is exactly what the generator makes from the spec in force."""
    files = gen.generate(yaml.safe_load(spec_in_force().read_text()), overlay)
    stale = [rel for rel, content in files.items() if (REPO / rel).read_bytes() != content]
    assert not stale, f"regenerate with python3 scripts/gen_connectors.py (spec {spec_in_force().name}): {stale}"


def test_check_mode_reports_a_stale_file(gen, tmp_path, overlay):
    out = tmp_path / "repo"
    assert gen.main(["--spec", str(FIXTURE_SPEC), "--out", str(out)]) == 0
    assert gen.main(["--spec", str(FIXTURE_SPEC), "--out", str(out), "--check"]) == 0
    swagger = out / "power_automate" / "apiDefinition.swagger.json"
    swagger.write_text(swagger.read_text().replace("Rate a charging session", "Rate it"))
    assert gen.main(["--spec", str(FIXTURE_SPEC), "--out", str(out), "--check"]) == 1


@pytest.mark.parametrize("source", ["committed", "fixture"])
def test_swagger_is_valid_for_power_platform_and_swagger2(source, committed_swagger, fixture_files,
                                                           swagger_schema):
    doc = committed_swagger if source == "committed" else json.loads(
        fixture_files["power_automate/apiDefinition.swagger.json"])
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in Draft4Validator(swagger_schema).iter_errors(doc)]
    assert errors == []
    validate(doc, cls=OpenAPIV2SpecValidator)


@pytest.mark.parametrize("source", ["committed", "fixture"])
def test_certification_rules(source, committed_swagger, committed_api_properties, fixture_files):
    if source == "committed":
        doc, props = committed_swagger, committed_api_properties
    else:
        doc = json.loads(fixture_files["power_automate/apiDefinition.swagger.json"])
        props = json.loads(fixture_files["power_automate/apiProperties.json"])
    assert certification_problems(doc, props) == []


def test_certification_checks_catch_broken_metadata(committed_swagger, committed_api_properties):
    doc = copy.deepcopy(committed_swagger)
    op = doc["paths"]["/v1/rate"]["post"]
    op["summary"] = "Rate a session."
    del next(p for p in op["parameters"] if p["in"] == "body")["x-ms-summary"]
    trigger = next(o for _, _, o in operations(doc) if o.get("x-ms-trigger"))
    trigger["parameters"][0]["schema"]["properties"]["callback_url"].pop("x-ms-notification-url")
    problems = certification_problems(doc, committed_api_properties)
    assert any("trailing period" in p for p in problems)
    assert any("rateSession.body: x-ms-summary missing" in p for p in problems)
    assert any("x-ms-notification-url" in p for p in problems)


def test_required_actions_and_triggers_are_present(committed_swagger, committed_api_properties):
    ops = {o["operationId"]: (p, m, o) for p, m, o in operations(committed_swagger)}
    for op_id in REQUIRED_ACTIONS:
        assert op_id in ops, op_id
        assert ops[op_id][2]["x-ms-visibility"] == "important", op_id
        assert not ops[op_id][2].get("x-ms-trigger")
    triggers = [o for o in ops.values() if o[2].get("x-ms-trigger")]
    events = {t[2]["parameters"][0]["schema"]["properties"]["event_types"]["default"][0] for t in triggers}
    assert events == REQUIRED_TRIGGERS
    # each trigger subscribes on a path the spec serves (no routing policy: Logic Apps has none)
    spec = yaml.safe_load(spec_in_force().read_text())
    served = next(p for p, item in spec["paths"].items() for m, o in item.items()
                  if isinstance(o, dict) and o.get("operationId") == "subscribeToEvent")
    for path, _, _ in triggers:
        assert re.fullmatch(served.replace("{event}", "[a-z_]+-[a-z_]+"), path), path
    assert not [t for t in committed_api_properties["properties"]["policyTemplateInstances"]
                if t["templateId"] == "routerequesttoendpoint"]


def test_pickers_use_list_operations_of_the_spec(committed_swagger):
    spec = yaml.safe_load(spec_in_force().read_text())
    spec_ids = {o.get("operationId") for item in spec["paths"].values() for o in item.values() if isinstance(o, dict)}
    found = {name: pick["operationId"] for _, _, op in operations(committed_swagger)
             for name, pick in _dynamic_values(op)}
    assert found.get("tariff_id") == "listTariffs"
    assert found.get("customer_id") == "listCustomers"
    assert found.get("invoice_id") == "listInvoices" and found.get("session_id") == "listSessions"
    assert found.get("reconciliation_id") == "listReconciliations"
    # the lists page with a cursor: the designer follows their next link
    ops = {o["operationId"]: o for _, _, o in operations(committed_swagger)}
    for op_id in ("listTariffs", "listCustomers", "listSessions", "listInvoices", "listReconciliations"):
        assert ops[op_id]["x-ms-pageable"] == {"nextLinkName": "next"}, op_id
        assert "next" in ops[op_id]["responses"]["200"]["schema"]["properties"], op_id
        assert {"limit", "cursor"} <= {p["name"] for p in ops[op_id]["parameters"]}, op_id
    assert {"start_from", "start_to", "status"} <= {p["name"] for p in ops["listSessions"]["parameters"]}
    assert {"created_from", "created_to", "status"} <= {p["name"] for p in ops["listInvoices"]["parameters"]}
    assert set(found.values()) <= spec_ids
    if "listStations" not in spec_ids:
        assert "station_id" not in found
        readme = (REPO / "power_automate" / "README.md").read_text()
        assert "no `GET /v1/stations`" in readme


@pytest.mark.parametrize("source", ["committed", "fixture"])
def test_api_properties_and_settings_match_paconn_schemas(source, committed_api_properties, fixture_files,
                                                          api_properties_schema, settings_schema):
    props = committed_api_properties if source == "committed" else json.loads(
        fixture_files["power_automate/apiProperties.json"])
    assert api_properties_problems(props, api_properties_schema) == []
    settings = json.loads((REPO / "power_automate" / "settings.json").read_text())
    assert list(Draft7Validator(settings_schema).iter_errors(settings)) == []
    for key in ("apiDefinition", "apiProperties", "icon"):
        assert (REPO / "power_automate" / settings[key]).is_file()


def test_api_properties_offer_api_key_and_entra_id_with_a_host_per_environment(committed_api_properties,
                                                                                committed_swagger):
    props = committed_api_properties["properties"]
    sets = {s["name"]: s["parameters"] for s in props["connectionParameterSets"]["values"]}
    assert sets["apiKey"]["api_key"]["type"] == "securestring"
    assert sets["oauth"]["token"]["oAuthSettings"]["identityProvider"] == "aad"
    assert all("hostUrl" in params for params in sets.values())
    host_policy = [t for t in props["policyTemplateInstances"] if t["templateId"] == "dynamichosturl"]
    assert host_policy[0]["parameters"]["x-ms-apimTemplateParameter.urlTemplate"] == \
        "@connectionParameters('hostUrl')"
    assert re.fullmatch(r"#[0-9A-Fa-f]{6}", props["iconBrandColor"]) and props["iconBrandColor"] != "#007ee5"
    assert props["capabilities"] == ["actions", "triggers"] and props["publisher"] and props["stackOwner"]
    # multi-auth: no security definitions in the swagger; the API key goes out by a setheader policy
    assert committed_swagger["securityDefinitions"] == {} and committed_swagger["security"] == []
    [header] = [t for t in props["policyTemplateInstances"] if t["templateId"] == "setheader"]
    assert header["parameters"]["x-ms-apimTemplateParameter.name"] == "X-API-Key"
    assert header["parameters"]["x-ms-apimTemplateParameter.value"] == "@connectionParameters('api_key','')"
    token = sets["oauth"]["token"]["uiDefinition"]
    assert token["displayName"] and token["description"] and token["constraints"]["required"] == "true"
    assert "evbill apikey create" in sets["apiKey"]["api_key"]["uiDefinition"]["tooltip"]


def test_api_properties_check_rejects_a_bad_parameter(committed_api_properties, api_properties_schema):
    props = copy.deepcopy(committed_api_properties)
    props["properties"]["connectionParameterSets"]["values"][0]["parameters"]["api_key"]["type"] = "password"
    assert api_properties_problems(props, api_properties_schema)


def test_icon_is_a_real_png():
    data = (REPO / "power_automate" / "icon.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (230, 230, 8, 2)  # certification: square, 100-230 px
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + 3 * width)
    stride = 1 + 3 * width
    pixels = {raw[i:i + 3] for row in range(height) for i in range(row * stride + 1, row * stride + stride, 3)}
    assert b"\xff\xff\xff" in pixels and len(pixels) == 2  # brand colour + a white bolt


def test_readme_has_the_certification_sections(committed_swagger):
    readme = (REPO / "power_automate" / "README.md").read_text()
    for heading in ("## Publisher:", "## Prerequisites", "## Supported Operations", "## Obtaining Credentials",
                    "## Getting Started", "## Known Issues and Limitations", "## Frequently Asked Questions",
                    "## Deployment Instructions"):
        assert heading in readme
    for _, _, op in operations(committed_swagger):
        if op["x-ms-visibility"] != "internal":
            assert f"| {op['summary']} | `{op['operationId']}` |" in readme


def test_converter_details(gen, overlay):
    spec = yaml.safe_load(FIXTURE_SPEC.read_text())
    swagger, _ = gen.to_swagger(spec, overlay)
    session = swagger["definitions"]["Session"]["properties"]
    assert session["end"]["x-nullable"] is True and "nullable" not in session["end"]
    assert session["tariff_id"]["x-ms-dynamic-values"]["operationId"] == "listTariffs"
    assert swagger["definitions"]["RateRequest"]["properties"]["session"]["$ref"] == "#/definitions/Session"
    problem = swagger["paths"]["/v1/rate"]["post"]["responses"]["422"]
    assert problem["schema"] == {"$ref": "#/definitions/Problem"}
    invoice_param = swagger["paths"]["/v1/invoices/{invoice_id}/void"]["post"]["parameters"][0]
    assert invoice_param == {"name": "invoice_id", "in": "path", "required": True, "type": "string",
                             "description": "Invoice id.", "x-ms-summary": "Invoice ID",
                             "x-ms-url-encoding": "single", "x-ms-visibility": "important",
                             "x-ms-dynamic-values": {"operationId": "listInvoices", "value-collection": "items",
                                                     "value-path": "id", "value-title": "id"}}
    limit = swagger["paths"]["/v1/customers"]["get"]["parameters"][0]
    assert (limit["type"], limit["minimum"], limit["maximum"], limit["default"]) == ("integer", 1, 500, 100)
    assert "/v1/health" not in swagger["paths"]
    union = gen.convert_schema({"oneOf": [{"$ref": "#/components/schemas/Session"}, {"type": "object"}]}, {})
    assert union == {"$ref": "#/definitions/Session",
                     "description": "One of several shapes; the connector shows the first."}


def test_generator_names_what_is_wrong(gen, overlay):
    spec = yaml.safe_load(FIXTURE_SPEC.read_text())
    broken = copy.deepcopy(overlay)
    broken["summaries"]["noSuchOperation"] = "Nothing"
    with pytest.raises(gen.GenerationError, match="noSuchOperation"):
        gen.to_swagger(spec, broken)
    no_location = copy.deepcopy(spec)
    del no_location["paths"]["/v1/subscriptions"]["post"]["responses"]["201"]["headers"]
    with pytest.raises(gen.GenerationError, match="Location"):
        gen.to_swagger(no_location, overlay)


def test_platform_side_builds_requests_from_the_connector(committed_swagger, committed_api_properties):
    """The request the Power Platform runtime would send, built only from the generated files."""
    from tests.lowcode.harness import PowerAutomate

    pa = PowerAutomate(committed_swagger, committed_api_properties,
                       {"hostUrl": "https://billing.contoso.example/", "api_key": "k1"})
    assert pa.headers() == {"X-API-Key": "k1"}
    method, url, query, body = pa.request_for("onSessionBilled", callback_url="https://flow.example/cb?sig=1")
    assert (method, url, query) == ("POST", "https://billing.contoso.example/v1/subscriptions/triggers/session-billed", {})
    assert body == {"callback_url": "https://flow.example/cb?sig=1", "event_types": ["session.billed"]}
    entra = PowerAutomate(committed_swagger, committed_api_properties, {"hostUrl": "https://h.example/"})
    assert entra.headers() == {}  # Entra ID set: no empty X-API-Key header, the platform's Bearer token
    method, url, _, _ = pa.request_for("finalizeInvoice", {"invoice_id": "inv/1 2"})
    assert (method, url) == ("POST", "https://billing.contoso.example/v1/invoices/inv%2F1%202/finalize")
    _, url, query, _ = pa.request_for("listInvoices", {"customer_id": "C-42"})
    assert (url, query) == ("https://billing.contoso.example/v1/invoices", {"customer_id": "C-42"})
    with pytest.raises(AssertionError, match="no parameter"):
        pa.request_for("getSession", {"session_id": "S1", "bogus": 1})
