"""End-to-end harness: the real API on 127.0.0.1 and the Power Automate runtime's side.

Nothing here prices or bills: the API does. The harness only plays the platforms (builds requests from
the generated connector exactly as the platform would, verifies signatures); webhooks arrive at
``tests.events.receiver.Receiver``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import requests

from tests.paths import REPO
from tests.platforms.fakes.server import serve

# ------------------------------------------------------------------------------------------ signatures


def header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def verify_signature(delivery: dict[str, Any], secret: str, signature_header: str, timestamp_header: str) -> bool:
    """HMAC-SHA256 over ``timestamp.body``, computed independently of the API's own signing code."""
    timestamp = header(delivery["headers"], timestamp_header)
    given = header(delivery["headers"], signature_header)
    if not timestamp or not given:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + delivery["body"], hashlib.sha256).hexdigest()
    candidates = [part.split("=", 1)[-1] for part in given.replace(" ", "").split(",")]
    return any(hmac.compare_digest(expected, c) for c in candidates)


# --------------------------------------------------------------------------------------- API server


@contextmanager
def api_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The real Flask app on 127.0.0.1 with a temp SQLite DB; yields base URL, API key and DB URL."""
    from connector.api import create_app

    db_url = f"sqlite:///{tmp_path / 'evbill.db'}"
    api_key = "lowcode-test-key"
    config = {"DATABASE_URL": db_url, "API_KEYS": {api_key: "t1"}, "TESTING": True}
    app = create_app(config)
    with serve(app) as base_url:
        yield {"base_url": base_url, "api_key": api_key, "db_url": db_url, "tenant": "t1", "app": app}


def run_worker_once(db_url: str) -> subprocess.CompletedProcess:
    """The outbox worker (``evbill worker --once``), exactly as an operator runs it."""
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "connector.cli", "worker", "--once"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)


# ---------------------------------------------------------------------------- Power Automate's side


class PowerAutomate:
    """Builds each request from the generated connector files the way the Power Platform runtime does:
    dynamichosturl from the connection's Host URL, routerequesttoendpoint and setheader policies (the API
    key), path parameters url-encoded, internal body defaults filled, the callback URL put in the
    property marked x-ms-notification-url."""

    def __init__(self, swagger: dict, api_properties: dict, connection: dict[str, str]) -> None:
        self.swagger, self.connection = swagger, connection
        props = api_properties["properties"]
        self.policies = props.get("policyTemplateInstances", [])
        self.ops = {op["operationId"]: (path, method, op) for path, item in swagger["paths"].items()
                    for method, op in item.items() if isinstance(op, dict) and "operationId" in op}
        self.http = requests.Session()

    def host(self) -> str:
        for policy in self.policies:
            if policy["templateId"] == "dynamichosturl":
                template = policy["parameters"]["x-ms-apimTemplateParameter.urlTemplate"]
                name = template.split("'")[1]
                return self.connection[name].rstrip("/")
        return f"https://{self.swagger['host']}"

    def headers(self) -> dict[str, str]:
        """The request headers the setheader policies add (``@connectionParameters('name','default')``)."""
        out = {}
        for policy in self.policies:
            params = policy["parameters"]
            if policy["templateId"] == "setheader" and params.get("x-ms-apimTemplate-policySection") == "Request":
                match = re.fullmatch(r"@connectionParameters\('([^']+)'(?:,'([^']*)')?\)",
                                     params["x-ms-apimTemplateParameter.value"])
                assert match, params
                value = self.connection.get(match[1], match[2] or "")
                if value:
                    out[params["x-ms-apimTemplateParameter.name"]] = value
        return out

    def request_for(self, op_id: str, params: dict[str, Any] | None = None, body: Any = None,
                    callback_url: str | None = None) -> tuple[str, str, dict, Any]:
        path, method, op = self.ops[op_id]
        params = dict(params or {})
        for policy in self.policies:
            if policy["templateId"] == "routerequesttoendpoint" and \
                    op_id in policy["parameters"].get("x-ms-apimTemplate-operationName", []):
                path = policy["parameters"]["x-ms-apimTemplateParameter.newPath"]
                method = policy["parameters"].get("x-ms-apimTemplateParameter.httpMethod", method).lower()
        query: dict[str, Any] = {}
        for p in op.get("parameters", []):
            if p["in"] == "path":
                path = path.replace("{" + p["name"] + "}", quote(str(params.pop(p["name"])), safe=""))
            elif p["in"] == "query" and p["name"] in params:
                query[p["name"]] = params.pop(p["name"])
            elif p["in"] == "body":
                body = self.fill_body(p["schema"], body, callback_url)
            elif p.get("required") and p["name"] not in params:
                raise AssertionError(f"{op_id}: required parameter {p['name']} missing")
        if params:
            raise AssertionError(f"{op_id}: the connector has no parameter(s) {sorted(params)}")
        return method.upper(), self.host() + path, query, body

    def fill_body(self, schema: dict, body: Any, callback_url: str | None) -> Any:
        if "$ref" in schema or schema.get("type") != "object":
            return body
        body = dict(body or {})
        for name, prop in (schema.get("properties") or {}).items():
            if prop.get("x-ms-notification-url"):
                if callback_url is None:
                    raise AssertionError("a trigger needs the platform's callback URL")
                body[name] = callback_url
            elif prop.get("x-ms-visibility") == "internal" and "default" in prop:
                body.setdefault(name, prop["default"])
        return body

    def call(self, op_id: str, params: dict[str, Any] | None = None, body: Any = None,
             callback_url: str | None = None) -> requests.Response:
        method, url, query, body = self.request_for(op_id, params, body, callback_url)
        return self.http.request(method, url, params=query or None, json=body, headers=self.headers(), timeout=30)

    def subscribe(self, trigger_op_id: str, callback_url: str) -> tuple[requests.Response, str]:
        """Turning a flow on: create the webhook, keep the Location header to unsubscribe with."""
        op = self.ops[trigger_op_id][2]
        assert op.get("x-ms-trigger") == "single"
        response = self.call(trigger_op_id, callback_url=callback_url)
        location = response.headers.get("Location", "")
        return response, urljoin(self.host() + "/", location)

    def unsubscribe(self, location: str) -> requests.Response:
        """Turning a flow off: DELETE the Location the subscription returned."""
        return self.http.delete(location, headers=self.headers(), timeout=30)


def json_body(delivery: dict[str, Any]) -> Any:
    return json.loads(delivery["body"])
