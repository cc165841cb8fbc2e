"""Generate the low-code packages from openapi/openapi.yaml (the single source of truth).

Writes power_automate/{apiDefinition.swagger.json, apiProperties.json, settings.json, icon.png, README.md}
and logic_apps/azuredeploy.json (ARM: the custom API with the swagger embedded, its connection and the
Consumption workflows built from logic_apps/workflows/*/workflow.json). The OpenAPI 3.0 -> Swagger 2.0
conversion is done here, explicitly, for the subset of OpenAPI our spec uses; x-ms-* metadata comes from
power_automate/overlay.yaml. ``--check`` exits 1 when a committed file differs from what would be generated.

    python3 scripts/gen_connectors.py [--spec openapi/openapi.yaml] [--out DIR] [--check]
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# JSON Schema keywords Swagger 2.0 (and the Power Platform schema) accept on a schema object.
SCHEMA_KEYS = {
    "$ref", "format", "title", "description", "default", "multipleOf", "maximum", "exclusiveMaximum",
    "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "maxProperties", "minProperties", "required", "enum", "additionalProperties", "type", "items", "allOf",
    "properties", "readOnly", "example",
}
# Keywords a non-body Swagger 2.0 parameter may carry next to name/in/required/description.
PARAM_KEYS = {
    "type", "format", "items", "collectionFormat", "default", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "enum",
    "multipleOf",
}


class GenerationError(Exception):
    """The spec or the overlay cannot be turned into a connector (names the operation or field)."""


# ---------------------------------------------------------------------------------------------- helpers


def title_case(name: str) -> str:
    """``customer_id`` -> ``Customer Id``: the fallback field title shown in the designers."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ").split()
    return " ".join(w if w.isupper() else w.capitalize() for w in words) or name


def sentence(text: str) -> str:
    text = " ".join(str(text).split())
    return text if text.endswith((".", "!", "?")) else text + "."


def short_summary(text: str) -> str:
    return " ".join(str(text).split()).rstrip(".")


def resolve(spec: dict, node: Any) -> Any:
    """Follow a local ``$ref`` (components/parameters, responses, requestBodies, headers)."""
    while isinstance(node, dict) and "$ref" in node and not node["$ref"].startswith("#/components/schemas/"):
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


# ------------------------------------------------------------------------------------ schema conversion


def convert_schema(schema: Any, titles: dict[str, str], name: str | None = None) -> dict:
    """OpenAPI 3.0 schema -> Swagger 2.0 schema (refs re-pointed, 3.0-only keywords turned into 2.0 ones)."""
    if not isinstance(schema, dict):
        return {"type": "object"}
    if "$ref" in schema:
        return {"$ref": schema["$ref"].replace("#/components/schemas/", "#/definitions/")}
    schema = dict(schema)
    for key in ("oneOf", "anyOf"):
        # Swagger 2.0 has no unions: keep the first alternative and say so in the description.
        if key in schema:
            options = schema.pop(key)
            first = convert_schema(options[0], titles, name) if options else {"type": "object"}
            note = "One of several shapes; the connector shows the first."
            merged = {**first, **{k: v for k, v in schema.items() if k in SCHEMA_KEYS}}
            merged.setdefault("description", note)
            return convert_schema(merged, titles, name) if "$ref" not in merged else merged
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":
            out["properties"] = {p: convert_property(s, titles, p) for p, s in value.items()}
        elif key == "items":
            out["items"] = convert_schema(value, titles)
        elif key == "additionalProperties":
            out[key] = value if isinstance(value, bool) else convert_schema(value, titles)
        elif key == "allOf":
            out[key] = [convert_schema(v, titles) for v in value]
        elif key == "nullable":
            if value:
                out["x-nullable"] = True
        elif key in SCHEMA_KEYS or key.startswith("x-ms-") or (key.startswith("x-") and key != "x-nullable"):
            out[key] = copy.deepcopy(value)
    if "properties" in out and "type" not in out:
        out["type"] = "object"
    return out


def convert_property(schema: Any, titles: dict[str, str], name: str) -> dict:
    """A property schema plus the title and description every field must show in the designer."""
    prop = convert_schema(schema, titles, name)
    prop.setdefault("x-ms-summary", titles.get(name, title_case(name)))
    prop.setdefault("description", sentence(f"The {titles.get(name, title_case(name)).lower()}"))
    return prop


def convert_parameter(spec: dict, param: dict, titles: dict[str, str]) -> dict:
    param = resolve(spec, param)
    schema = dict(param.get("schema") or {"type": "string"})
    if "$ref" in schema:
        target = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        schema = dict(target)
    out: dict[str, Any] = {"name": param["name"], "in": param["in"], "required": bool(param.get("required"))}
    if param["in"] == "path":
        out["required"] = True
    out["type"] = schema.get("type", "string")
    for key in sorted(PARAM_KEYS - {"type"}):
        if key in schema:
            out[key] = copy.deepcopy(schema[key])
    if out["type"] == "array" and "items" in out:
        out["items"] = {k: v for k, v in out["items"].items() if k in PARAM_KEYS}
        out["items"].setdefault("type", "string")
        out.setdefault("collectionFormat", "csv")
    if out["type"] == "object":
        out["type"] = "string"
    out["description"] = sentence(param.get("description") or f"The {title_case(param['name']).lower()}")
    out["x-ms-summary"] = titles.get(param["name"], title_case(param["name"]))
    if param["in"] == "path":
        out["x-ms-url-encoding"] = "single"
    return out


def json_content(content: dict | None) -> tuple[str | None, dict | None]:
    """The JSON media type of a content map (problem+json last), else the first one."""
    if not content:
        return None, None
    for media in ("application/json", "application/problem+json"):
        if media in content:
            return media, content[media].get("schema")
    media = next(iter(content))
    return media, content[media].get("schema")


def convert_responses(spec: dict, responses: dict, titles: dict[str, str]) -> dict:
    out: dict[str, Any] = {}
    for code, response in responses.items():
        response = resolve(spec, response)
        item: dict[str, Any] = {"description": sentence(response.get("description") or "Response")}
        _, schema = json_content(response.get("content"))
        if schema is not None:
            item["schema"] = convert_schema(schema, titles)
        headers = {}
        for hname, header in (response.get("headers") or {}).items():
            header = resolve(spec, header)
            hschema = header.get("schema") or {"type": "string"}
            headers[hname] = {"type": hschema.get("type", "string"),
                              "description": sentence(header.get("description") or hname)}
        if headers:
            item["headers"] = headers
        out[str(code)] = item
    return out or {"200": {"description": "Success."}}


# --------------------------------------------------------------------------------- the whole document


def iter_operations(spec: dict) -> list[tuple[str, str, dict, list]]:
    ops = []
    for path, item in (spec.get("paths") or {}).items():
        shared = item.get("parameters") or []
        for method in METHODS:
            if method in item:
                ops.append((path, method, item[method], shared))
    return ops


def operation_index(spec: dict) -> dict[str, tuple[str, str, dict]]:
    index: dict[str, tuple[str, str, dict]] = {}
    for path, method, op, _ in iter_operations(spec):
        op_id = op.get("operationId")
        if not op_id:
            raise GenerationError(f"{method.upper()} {path}: operationId is missing")
        if op_id in index:
            raise GenerationError(f"operationId {op_id!r} is used twice")
        index[op_id] = (path, method, op)
    return index


def add_pickers(node: Any, pickers: dict[str, dict], current_op: str, name: str | None = None) -> None:
    """x-ms-dynamic-values on every parameter/property named like a picker (not on the list op itself)."""
    if isinstance(node, dict):
        picker = pickers.get(name or "")
        if picker and picker["operationId"] != current_op and node.get("type", "string") == "string" \
                and "$ref" not in node and "x-ms-dynamic-values" not in node:
            node["x-ms-dynamic-values"] = dict(picker)
        for pname, prop in (node.get("properties") or {}).items():
            add_pickers(prop, pickers, current_op, pname)
        if isinstance(node.get("items"), dict):
            add_pickers(node["items"], pickers, current_op)


def picker_for(spec: dict, index: dict, picker: dict) -> dict:
    """x-ms-dynamic-values for a list operation: where its items are and which fields to show, read off
    the operation's 200 response unless the overlay says."""
    _, _, op = index[picker["operationId"]]
    response = resolve(spec, (op.get("responses") or {}).get("200") or {})
    _, schema = json_content(response.get("content"))

    def deref(node: Any) -> dict:
        if isinstance(node, dict) and "$ref" in node:
            return spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
        return node if isinstance(node, dict) else {}

    schema, collection = deref(schema), None
    if schema.get("type") != "array":
        arrays = [k for k, v in (schema.get("properties") or {}).items() if deref(v).get("type") == "array"]
        if len(arrays) != 1:
            raise GenerationError(f"{picker['operationId']}: cannot tell which property lists the items")
        collection, schema = arrays[0], deref(schema["properties"][arrays[0]])
    item_props = deref(schema.get("items")).get("properties") or {}
    out = {"operationId": picker["operationId"]}
    if picker.get("value-collection", collection):
        out["value-collection"] = picker.get("value-collection", collection)
    out["value-path"] = picker.get("value-path", "id")
    out["value-title"] = picker.get("value-title", "name" if "name" in item_props else out["value-path"])
    return out


def security_definitions(spec: dict, overlay: dict) -> tuple[dict, list]:
    """The connection's two ways in: the X-API-Key header and Entra ID (auth code). Other schemes of the
    spec (e.g. OCPI tokens of machine-to-machine routes) are not the connector's."""
    definitions: dict[str, Any] = {}
    for scheme in ((spec.get("components") or {}).get("securitySchemes") or {}).values():
        if scheme.get("type") == "apiKey" and scheme.get("name") == "X-API-Key":
            definitions["api_key"] = {"type": "apiKey", "in": scheme.get("in", "header"), "name": "X-API-Key"}
        elif scheme.get("type") == "oauth2" and "authorizationCode" in (scheme.get("flows") or {}):
            definitions["oauth2_auth"] = {
                "type": "oauth2", "flow": "accessCode",
                "authorizationUrl": "https://login.microsoftonline.com/common/oauth2/authorize",
                "tokenUrl": "https://login.microsoftonline.com/common/oauth2/authorize",
                "scopes": {s: s for s in overlay["connector"]["oauth"]["scopes"]},
            }
    if "api_key" not in definitions:
        raise GenerationError("components.securitySchemes: the X-API-Key apiKey scheme is missing")
    return definitions, [{name: []} for name in definitions]


def to_swagger(spec: dict, overlay: dict) -> tuple[dict, list[dict]]:
    """The connector's Swagger 2.0 document and the routing policies its trigger paths need."""
    conn = overlay["connector"]
    titles: dict[str, str] = overlay.get("titles") or {}
    index = operation_index(spec)
    named = set(overlay.get("summaries") or {}) | set(sum((overlay.get("visibility") or {}).values(), []))
    named |= {overlay["triggers"]["subscribe"], overlay["triggers"]["unsubscribe"]}
    missing = sorted(n for n in named if n not in index)
    if missing:
        raise GenerationError(f"overlay names operations the spec lacks: {', '.join(missing)}")
    pickers = {k: picker_for(spec, index, v) for k, v in (overlay.get("pickers") or {}).items()
               if v["operationId"] in index}
    visibility = {op: vis for vis, ops in (overlay.get("visibility") or {}).items() for op in ops}
    excluded = set(overlay.get("exclude") or [])
    excluded_tags = set(overlay.get("exclude_tags") or [])

    paths: dict[str, dict] = {}
    for path, method, op, shared in iter_operations(spec):
        op_id = op["operationId"]
        if op_id in excluded or excluded_tags & set(op.get("tags") or []):
            continue
        summary = short_summary((overlay.get("summaries") or {}).get(op_id) or op.get("summary") or op_id)
        description = sentence(op.get("description") or op.get("summary") or op_id)
        if description.rstrip(".") == summary:
            description = sentence(f"{summary}. See the API reference for the fields")
        out: dict[str, Any] = {"operationId": op_id, "summary": summary, "description": description}
        if op.get("tags"):
            out["tags"] = list(op["tags"])
        params = [convert_parameter(spec, p, titles) for p in [*shared, *(op.get("parameters") or [])]]
        body = resolve(spec, op.get("requestBody"))
        if body:
            media, schema = json_content(body.get("content"))
            bschema = convert_schema(schema or {"type": "object"}, titles)
            params.append({"name": "body", "in": "body", "required": bool(body.get("required")),
                           "description": sentence(body.get("description") or f"What to send for: {summary.lower()}"),
                           "x-ms-summary": "Request", "schema": bschema})
            if media and media != "application/json":
                out["consumes"] = [media]
        for p in params:
            p.setdefault("x-ms-visibility", "important" if p.get("required") else "advanced")
            add_pickers(p.get("schema", p), pickers, op_id, p["name"] if p["in"] != "body" else None)
        if params:
            out["parameters"] = params
        out["responses"] = convert_responses(spec, op.get("responses") or {}, titles)
        out["x-ms-visibility"] = visibility.get(op_id, "advanced")
        paths.setdefault(path, {})[method] = out

    policies = add_triggers(spec, overlay, index, paths, titles)
    definitions = {name: convert_schema(schema, titles, name)
                   for name, schema in ((spec.get("components") or {}).get("schemas") or {}).items()}
    definitions = used_definitions(paths, definitions)
    for schema in definitions.values():
        add_pickers(schema, pickers, "")
    secdefs, security = security_definitions(spec, overlay)
    info = {"title": conn["title"], "description": " ".join(conn["description"].split()),
            "version": conn["version"], "contact": conn["contact"]}
    swagger = {
        "swagger": "2.0", "info": info, "host": conn["host"], "basePath": conn["basePath"],
        "schemes": conn["schemes"], "consumes": ["application/json"], "produces": ["application/json"],
        "paths": dict(sorted(paths.items())), "definitions": dict(sorted(definitions.items())),
        "parameters": {}, "responses": {}, "securityDefinitions": secdefs, "security": security,
        "tags": used_tags(spec, paths),
        "x-ms-connector-metadata": conn["metadata"],
    }
    return swagger, policies


def used_tags(spec: dict, paths: dict) -> list[dict]:
    """The spec's tags that the connector's operations use, plus the triggers' own."""
    used = {t for item in paths.values() for op in item.values() if isinstance(op, dict) for t in op.get("tags", [])}
    tags = [{"name": t["name"], "description": sentence(t.get("description") or t["name"])}
            for t in spec.get("tags") or [] if t["name"] in used]
    if "triggers" in used:
        tags.append({"name": "triggers", "description": "Webhook triggers backed by the subscriptions resource."})
    return tags


def used_definitions(paths: dict, definitions: dict) -> dict:
    """Only the definitions the connector's operations reach (schemas of excluded routes stay out)."""
    keep: set[str] = set()
    todo = re.findall(r'"#/definitions/([^"]+)"', json.dumps(paths))
    while todo:
        name = todo.pop()
        if name in keep or name not in definitions:
            continue
        keep.add(name)
        todo += re.findall(r'"#/definitions/([^"]+)"', json.dumps(definitions[name]))
    return {name: schema for name, schema in definitions.items() if name in keep}


def add_triggers(spec: dict, overlay: dict, index: dict, paths: dict, titles: dict[str, str]) -> list[dict]:
    """One webhook trigger per event type, each on its own path routed to the subscribe operation."""
    trig = overlay["triggers"]
    sub_path, sub_method, sub_op = index[trig["subscribe"]]
    body = resolve(spec, sub_op.get("requestBody")) or {}
    _, schema = json_content(body.get("content"))
    if schema and "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    props = (schema or {}).get("properties") or {}
    if "callback_url" not in props or "event_types" not in props:
        raise GenerationError(f"{trig['subscribe']}: request body needs callback_url and event_types")
    created = [c for c in sub_op.get("responses") or {} if str(c) == "201"]
    if not created or "Location" not in (resolve(spec, sub_op["responses"][created[0]]).get("headers") or {}):
        raise GenerationError(f"{trig['subscribe']}: needs a 201 response with a Location header")
    responses = convert_responses(spec, {"201": sub_op["responses"][created[0]]}, titles)
    responses["201"]["headers"]["Location"]["description"] = (
        "URL of the subscription; the platform sends DELETE to it to unsubscribe.")
    policies = []
    for event in trig["events"]:
        slug = event["type"].replace(".", "-")
        path = f"{sub_path.rstrip('/')}/triggers/{slug}"
        body_schema = {
            "type": "object", "required": ["callback_url", "event_types"],
            "properties": {
                "callback_url": {"type": "string", "x-ms-notification-url": True, "x-ms-visibility": "internal",
                                 "x-ms-summary": "Callback URL",
                                 "description": "The URL the platform receives the events on."},
                "event_types": {"type": "array", "items": {"type": "string"}, "default": [event["type"]],
                                "x-ms-visibility": "internal", "x-ms-summary": "Event types",
                                "description": f"Always [{event['type']}] for this trigger."},
            },
        }
        data_props = {}
        for key, kind in event["data"].items():
            if kind in ("object", "string"):
                data_props[key] = {"type": kind, "x-ms-summary": title_case(key),
                                   "description": sentence(f"The {title_case(key).lower()}")}
            else:
                data_props[key] = {"$ref": f"#/definitions/{kind}", "x-ms-summary": title_case(key),
                                   "description": sentence(f"The {title_case(key).lower()}")}
                if kind not in ((spec.get("components") or {}).get("schemas") or {}):
                    data_props[key] = {"type": "object", "x-ms-summary": title_case(key),
                                       "description": sentence(f"The {title_case(key).lower()}")}
        envelope = {"type": "object", "properties": {
            "id": {"type": "string", "x-ms-summary": "Event ID", "description": "Unique event id (dedupe on it)."},
            "type": {"type": "string", "x-ms-summary": "Event type", "description": "The event type."},
            "tenant_id": {"type": "string", "x-ms-summary": "Tenant ID", "description": "The tenant."},
            "created_at": {"type": "string", "format": "date-time", "x-ms-summary": "Created at",
                           "description": "When the event happened."},
            "data": {"type": "object", "properties": data_props, "x-ms-summary": "Data",
                     "description": "The event payload."},
        }}
        paths[path] = {
            "x-ms-notification-content": {"description": sentence(f"A {event['type']} event"), "schema": envelope},
            sub_method: {
                "operationId": event["operationId"], "summary": short_summary(event["summary"]),
                "description": sentence(event["description"]), "x-ms-trigger": "single",
                "x-ms-visibility": "important", "tags": ["triggers"],
                "parameters": [{"name": "body", "in": "body", "required": True, "x-ms-visibility": "internal",
                                "x-ms-summary": "Subscription", "schema": body_schema,
                                "description": "The subscription the platform creates for this trigger."}],
                "responses": responses,
            },
        }
        policies.append({"templateId": "routerequesttoendpoint",
                         "title": f"Route {event['operationId']} to the subscriptions resource",
                         "parameters": {"x-ms-apimTemplate-operationName": [event["operationId"]],
                                        "x-ms-apimTemplateParameter.newPath": sub_path,
                                        "x-ms-apimTemplateParameter.httpMethod": sub_method.upper()}})
    return policies


# ----------------------------------------------------------------------------------- other artefacts


def api_properties(overlay: dict, policies: list[dict]) -> dict:
    conn = overlay["connector"]
    host = conn["hostParameter"]
    host_param = {"type": "string", "uiDefinition": {
        "displayName": host["displayName"], "description": host["description"],
        "tooltip": "Each environment (dev, test, prod) points its connection at its own API host",
        "constraints": {"required": "true", "tabIndex": 1}}}
    oauth = conn["oauth"]
    return {"properties": {
        "connectionParameterSets": {
            "uiDefinition": {"displayName": "Authentication type", "description": "How to sign in to the API"},
            "values": [
                {"name": "apiKey", "uiDefinition": {"displayName": "API key",
                                                    "description": "A tenant API key sent as X-API-Key"},
                 "parameters": {
                     host["name"]: host_param,
                     "api_key": {"type": "securestring", "uiDefinition": {
                         "displayName": "API key", "description": "The API key for your tenant",
                         "tooltip": "Create one with: evbill keys create --tenant <tenant>",
                         "constraints": {"required": "true", "clearText": False, "tabIndex": 2}}}}},
                {"name": "oauth", "uiDefinition": {"displayName": "Microsoft Entra ID",
                                                   "description": "Sign in with your organisation account"},
                 "parameters": {
                     host["name"]: host_param,
                     "token": {"type": "oauthSetting", "oAuthSettings": {
                         "identityProvider": "aad", "clientId": oauth["clientId"], "scopes": oauth["scopes"],
                         "redirectMode": "Global", "redirectUrl": "https://global.consent.azure-apim.net/redirect",
                         "properties": {"IsFirstParty": "False"},
                         "customParameters": {"loginUri": {"value": "https://login.microsoftonline.com"},
                                              "tenantId": {"value": "common"},
                                              "resourceUri": {"value": oauth["resourceUri"]}}}},
                     "token:TenantId": {"type": "string", "metadata": {"sourceType": "AzureActiveDirectoryTenant"},
                                        "uiDefinition": {
                                            "constraints": {"hidden": "true", "required": "false"},
                                            "description": "The tenant ID of for the Azure Active Directory application",
                                            "displayName": "Tenant"}}}},
            ]},
        "policyTemplateInstances": [
            {"templateId": "dynamichosturl", "title": "Host URL per environment",
             "parameters": {"x-ms-apimTemplateParameter.urlTemplate": f"@connectionParameters('{host['name']}')"}},
            *policies,
        ],
        "iconBrandColor": conn["brandColor"],
        "capabilities": ["actions", "triggers"],
        "publisher": conn["publisher"],
        "stackOwner": conn["stackOwner"],
    }}


def settings() -> dict:
    return {"apiDefinition": "apiDefinition.swagger.json", "apiProperties": "apiProperties.json",
            "icon": "icon.png", "powerAppsApiVersion": "2016-11-01", "powerAppsUrl": "https://api.powerapps.com",
            "flowApiVersion": "2016-11-01", "flowUrl": "https://api.flow.microsoft.com"}


def icon_png(colour: str, size: int = 64) -> bytes:
    """A deterministic PNG: the brand colour with a white lightning bolt (no imaging library needed)."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    bolt = [(0.58, 0.12), (0.30, 0.55), (0.48, 0.55), (0.40, 0.88), (0.70, 0.42), (0.52, 0.42), (0.62, 0.12)]
    poly = [(x * size, y * size) for x, y in bolt]

    def inside(px: float, py: float) -> bool:
        hit = False
        for (x1, y1), (x2, y2) in zip(poly, poly[1:] + poly[:1], strict=True):
            if (y1 > py) != (y2 > py) and px < (x2 - x1) * (py - y1) / (y2 - y1) + x1:
                hit = not hit
        return hit

    rows = b"".join(b"\x00" + b"".join(bytes((255, 255, 255) if inside(x + .5, y + .5) else (r, g, b))
                                       for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def operation_rows(swagger: dict, triggers: bool) -> list[str]:
    rows = []
    for path, item in swagger["paths"].items():
        for method, op in item.items():
            if method not in METHODS or op.get("x-ms-visibility") == "internal":
                continue
            if bool(op.get("x-ms-trigger")) != triggers:
                continue
            rows.append(f"| {op['summary']} | `{op['operationId']}` | {op['description']} |"
                        + ("" if triggers else f" `{method.upper()} {path}` |"))
    return rows


def readme(swagger: dict, overlay: dict, stations_note: str) -> str:
    conn = overlay["connector"]
    actions = "\n".join(operation_rows(swagger, False))
    triggers = "\n".join(operation_rows(swagger, True))
    return f"""# {conn['title']}

<!-- GENERATED by scripts/gen_connectors.py from openapi/openapi.yaml + power_automate/overlay.yaml. Do not edit. -->

{" ".join(conn['description'].split())}

## Publisher: {conn['publisher']}

## Prerequisites

- A running EV charging billing connector API reachable over HTTPS from the Power Platform (the URL is the
  connection's **Host URL**, so dev, test and prod environments each point at their own host).
- Either an API key for your tenant, or a Microsoft Entra ID app registration for the API (auth-code flow).

## Obtaining Credentials

- **API key**: an administrator creates a key for the tenant on the API server; it is sent as the
  `X-API-Key` header. Choose the *API key* authentication type when creating the connection.
- **Microsoft Entra ID**: register the API (Application ID URI `{conn['oauth']['resourceUri']}`) and expose
  the scope `{conn['oauth']['scopes'][0]}`; put the client ID in `apiProperties.json` (`clientId`) before
  importing, and add `https://global.consent.azure-apim.net/redirect` as a redirect URI. Choose the
  *Microsoft Entra ID* authentication type when creating the connection.

## Supported Operations

### Actions

| Name in the designer | Operation ID | Description | Endpoint |
|---|---|---|---|
{actions}

### Triggers

Webhook triggers: the platform subscribes (`POST /v1/subscriptions` with its callback URL and the one event
type), receives each event signed with HMAC-SHA256 over `timestamp.body`, and unsubscribes by sending DELETE
to the subscription's `Location` header when the flow is turned off or deleted.

| Name in the designer | Operation ID | Description |
|---|---|---|
{triggers}

## Known Issues and Limitations

- Swagger 2.0 has no `oneOf`: where the API accepts several shapes the connector shows the first one.
- Each trigger has its own path in this definition (`/v1/subscriptions/triggers/<event>`); a
  `routerequesttoendpoint` policy in `apiProperties.json` sends it to `POST /v1/subscriptions`.
- {stations_note}
- Machine-to-machine routes of the API (OCPI CDR push, vendor webhooks, CSV imports) and probes are not part
  of the connector; chargers and platforms call them directly.
- Amounts are strings in the currency's minor units, exactly as the API returns them; do arithmetic in the
  API, not in the flow.
- `apiProperties.json` uses `connectionParameterSets` (API key or Entra ID), which the paconn JSON Schema of
  2024-10 does not list; each set's parameters are validated against that schema's connection-parameter rules.

## Getting Started

Create a connection (Host URL + API key, or Host URL + Entra ID sign-in), then build a flow on the trigger
**When a session is billed** with the action **Finalize an invoice**; step by step in
`docs/lowcode/power-automate.md`.

## Frequently Asked Questions

- *Why are amounts strings like `357`?* They are exact minor units (cents) from the API; no floats.
- *Can one event reach a flow twice?* Delivery is at-least-once; deduplicate on the event's *Event ID*.

## Deployment Instructions

1. `pip install paconn` and `paconn login`.
2. Edit `apiProperties.json` (`clientId`) if you use Entra ID.
3. `paconn create --api-prop apiProperties.json --api-def apiDefinition.swagger.json --icon icon.png`
   (or `paconn create -s settings.json`; `paconn update -s settings.json` after regenerating).
4. Create a connection: pick the authentication type, enter the **Host URL** and the credentials.
5. Regenerate after an API change: `python3 scripts/gen_connectors.py` (CI fails when the files are stale).
"""


# ---------------------------------------------------------------------------------------- Logic Apps


def consumption_definition(definition: dict) -> dict:
    """A Standard workflow definition -> its Consumption form (connection by $connections parameter)."""
    text = json.dumps(definition)
    text = text.replace('"referenceName": "evbill"',
                        '"name": "@parameters(\'$connections\')[\'evbill\'][\'connectionId\']"')
    out = json.loads(text)
    out.setdefault("parameters", {})["$connections"] = {"type": "Object", "defaultValue": {}}
    return out


def arm_template(swagger: dict, overlay: dict, workflows: dict[str, dict]) -> dict:
    conn = overlay["connector"]
    resources: list[dict] = [
        {"type": "Microsoft.Web/customApis", "apiVersion": "2016-06-01", "name": "[parameters('customApiName')]",
         "location": "[parameters('location')]",
         "properties": {
             "displayName": conn["title"], "description": " ".join(conn["description"].split()),
             "iconUri": "[parameters('iconUri')]", "brandColor": conn["brandColor"],
             "backendService": {"serviceUrl": "[parameters('apiBaseUrl')]"},
             "apiType": "Rest", "capabilities": [],
             "swagger": swagger,
             "connectionParameters": {"api_key": {"type": "securestring", "uiDefinition": {
                 "displayName": "API key", "description": "The API key for your tenant",
                 "constraints": {"required": "true", "clearText": False}}}},
         }},
        {"type": "Microsoft.Web/connections", "apiVersion": "2016-06-01", "name": "[parameters('connectionName')]",
         "location": "[parameters('location')]",
         "dependsOn": ["[resourceId('Microsoft.Web/customApis', parameters('customApiName'))]"],
         "properties": {"displayName": conn["title"],
                        "api": {"id": "[resourceId('Microsoft.Web/customApis', parameters('customApiName'))]"},
                        "parameterValues": {"api_key": "[parameters('apiKey')]"}}},
    ]
    for name, workflow in sorted(workflows.items()):
        definition = consumption_definition(workflow["definition"])
        params = {"$connections": {"value": {"evbill": {
            "connectionId": "[resourceId('Microsoft.Web/connections', parameters('connectionName'))]",
            "connectionName": "[parameters('connectionName')]",
            "id": "[resourceId('Microsoft.Web/customApis', parameters('customApiName'))]"}}}}
        for pname in (definition.get("parameters") or {}):
            if pname != "$connections":
                params[pname] = {"value": f"[parameters('{pname}')]"}
        resources.append({
            "type": "Microsoft.Logic/workflows", "apiVersion": "2019-05-01", "name": f"evbill-{name}",
            "location": "[parameters('location')]",
            "dependsOn": ["[resourceId('Microsoft.Web/connections', parameters('connectionName'))]"],
            "properties": {"state": "Enabled", "definition": definition, "parameters": params}})
    wf_params: dict[str, Any] = {}
    for workflow in workflows.values():
        for pname, pdef in (workflow["definition"].get("parameters") or {}).items():
            if pname != "$connections":
                wf_params[pname] = {"type": "string" if pdef["type"] == "String" else pdef["type"].lower(),
                                    **({"defaultValue": pdef["defaultValue"]} if "defaultValue" in pdef else {})}
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
            "customApiName": {"type": "string", "defaultValue": "evbill-billing"},
            "connectionName": {"type": "string", "defaultValue": "evbill"},
            "apiBaseUrl": {"type": "string", "metadata": {"description": "Base URL of the billing API"}},
            "apiKey": {"type": "securestring", "metadata": {"description": "Tenant API key (X-API-Key)"}},
            "iconUri": {"type": "string", "defaultValue": ""},
            **dict(sorted(wf_params.items())),
        },
        "resources": resources,
        "outputs": {"customApiId": {"type": "string",
                                    "value": "[resourceId('Microsoft.Web/customApis', parameters('customApiName'))]"}},
    }


# ------------------------------------------------------------------------------------------------ main


def generate(spec: dict, overlay: dict, root: Path = ROOT) -> dict[str, bytes]:
    """Every generated file, keyed by its path relative to the repo root."""
    swagger, policies = to_swagger(spec, overlay)
    index = operation_index(spec)
    stations_note = ("Station pickers use `listStations`." if "listStations" in index else
                     "Stations have no list operation in the API (no `GET /v1/stations`), so station fields are "
                     "free text, not a picker.")
    workflows = {p.parent.name: json.loads(p.read_text())
                 for p in sorted((root / "logic_apps" / "workflows").glob("*/workflow.json"))}

    def dump(obj: Any) -> bytes:
        return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()

    return {
        "power_automate/apiDefinition.swagger.json": dump(swagger),
        "power_automate/apiProperties.json": dump(api_properties(overlay, policies)),
        "power_automate/settings.json": dump(settings()),
        "power_automate/icon.png": icon_png(overlay["connector"]["brandColor"]),
        "power_automate/README.md": readme(swagger, overlay, stations_note).encode(),
        "logic_apps/azuredeploy.json": dump(arm_template(swagger, overlay, workflows)),
    }


def load(spec_path: Path, overlay_path: Path) -> tuple[dict, dict]:
    return yaml.safe_load(spec_path.read_text()), yaml.safe_load(overlay_path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "openapi" / "openapi.yaml")
    parser.add_argument("--overlay", type=Path, default=ROOT / "power_automate" / "overlay.yaml")
    parser.add_argument("--out", type=Path, default=ROOT, help="write under this directory (default: repo)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file is stale")
    args = parser.parse_args(argv)
    try:
        files = generate(*load(args.spec, args.overlay))
    except (GenerationError, OSError, KeyError) as exc:
        print(f"gen_connectors: error: {exc}", file=sys.stderr)
        return 2
    stale = []
    for rel, content in files.items():
        target = args.out / rel
        if args.check:
            if not target.exists() or target.read_bytes() != content:
                stale.append(rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    if stale:
        print("gen_connectors: stale (run python3 scripts/gen_connectors.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
