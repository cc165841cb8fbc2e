"""What a flow author sees of a trigger's output: the labels of the dynamic-content panel and where each
one reads in the event, taken only from the generated swagger (as the designer does)."""

from __future__ import annotations

import copy
from typing import Any

from jsonschema import Draft4Validator


def trigger(swagger: dict, op_id: str) -> tuple[str, dict]:
    """(path, x-ms-notification-content schema) of the trigger ``op_id``."""
    for path, item in swagger["paths"].items():
        for _method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == op_id:
                assert op.get("x-ms-trigger"), op_id
                return path, item["x-ms-notification-content"]["schema"]
    raise AssertionError(f"no trigger {op_id}")


def event_type(swagger: dict, op_id: str) -> str:
    """The one event type a trigger subscribes to (its internal event_types default)."""
    for item in swagger["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == op_id:
                body = next(p for p in op["parameters"] if p["in"] == "body")
                return str(body["schema"]["properties"]["event_types"]["default"][0])
    raise AssertionError(f"no trigger {op_id}")


def outputs(swagger: dict, schema: dict, labels: tuple[str, ...] = (), keys: tuple[str, ...] = (),
            seen: frozenset[str] = frozenset()) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Every field the panel offers: its label path (x-ms-summary of each level) -> its key path in the event
    (``[]`` marks an array level, whose items a flow loops over with Apply to each)."""
    found: dict[tuple[str, ...], tuple[str, ...]] = {}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:  # a recursive schema: stop where the designer would
            return found
        return outputs(swagger, swagger["definitions"][name], labels, keys, seen | {name})
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return outputs(swagger, schema["items"], labels, (*keys, "[]"), seen)
    for key, prop in (schema.get("properties") or {}).items():
        label = prop.get("x-ms-summary", key)
        found[(*labels, label)] = (*keys, key)
        found.update(outputs(swagger, prop, (*labels, label), (*keys, key), seen))
    return found


def bare_objects(swagger: dict, schema: dict, where: str = "", seen: frozenset[str] = frozenset()) -> list[str]:
    """Object fields with nothing inside for the panel to show (the defect of untyped trigger outputs)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return [] if name in seen else bare_objects(swagger, swagger["definitions"][name], where, seen | {name})
    if schema.get("type") == "object" and not schema.get("properties") and not schema.get("additionalProperties"):
        return [where]
    out = []
    for key, prop in (schema.get("properties") or {}).items():
        out += bare_objects(swagger, prop, f"{where}.{key}", seen)
    return out


def pick(event: Any, keys: tuple[str, ...]) -> Any:
    """The value at a key path (first item of each array level), as the designer's expression would read it."""
    node = event
    for key in keys:
        node = node[0] if key == "[]" else node[key]
    return node


def validator(swagger: dict, schema: dict) -> Draft4Validator:
    """A JSON Schema validator for the event as the swagger types it (x-nullable read as "or null")."""

    def nullable(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: nullable(v) for k, v in node.items()}
            if node.pop("x-nullable", False) and isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
                if "enum" in node:
                    node["enum"] = [*node["enum"], None]
            return node
        if isinstance(node, list):
            return [nullable(v) for v in node]
        return node

    full = nullable({**copy.deepcopy(schema), "definitions": swagger["definitions"]})
    return Draft4Validator(full)
