"""Google Cloud Functions: the CloudEvent function served by functions-framework on 127.0.0.1."""

from __future__ import annotations

import base64
import copy
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft4Validator, Draft7Validator

from tests.paths import REPO, VENDOR_SPECS
from tests.serverless.conftest import CLOSED_SESSION, FLAT_TARIFF, load_example

ENTRY = Path(__file__).with_name("gcp_entry.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, proc: subprocess.Popen, url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log
        self.database_url: str | None = None

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def wait_for(self, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            if len(lines) >= count:
                return lines
            time.sleep(0.05)
        raise AssertionError(f"expected {count} log lines, got: {self.log.read_text()[-2000:]}")


def start_function(tmp_path: Path, env: dict[str, str]) -> Server:
    port = free_port()
    log = tmp_path / "function.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "functions_framework", "--source", str(ENTRY), "--target", "on_session_message",
         "--signature-type", "cloudevent", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        cwd=str(REPO))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(log.read_text())
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return Server(proc, f"http://127.0.0.1:{port}/", log)
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("functions-framework did not start: " + log.read_text())


@pytest.fixture(params=["memory", "database"])
def function(request, tmp_path: Path) -> Iterator[Server]:
    env = {"EVBILL_TEST_TARIFF": json.dumps(FLAT_TARIFF)}
    if request.param == "database":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path}/gcp.db"
    server = start_function(tmp_path, env)
    server.database_url = env.get("DATABASE_URL")
    yield server
    server.proc.terminate()
    server.proc.wait(10)


def cloud_event(ce_id: str, payload: Any, attributes: dict[str, str] | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_example("gcp_functions/pubsub_cloudevent.json"))
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    event["id"] = ce_id
    event["data"]["message"]["messageId"] = ce_id
    event["data"]["message"]["data"] = base64.b64encode(raw).decode()
    if attributes is not None:
        event["data"]["message"]["attributes"] = attributes
    return event


def assert_envelope_valid(event: dict[str, Any]) -> None:
    envelope = json.loads((VENDOR_SPECS / "gcp_functions" / "cloudevents_v1_envelope.schema.json").read_text())
    assert not list(Draft7Validator(envelope).iter_errors(event))
    data_schema = json.loads((VENDOR_SPECS / "gcp_functions" / "pubsub_MessagePublishedData.schema.json").read_text())
    assert not list(Draft4Validator(data_schema).iter_errors(event["data"]))


def post(server: Server, event: dict[str, Any]) -> requests.Response:
    return requests.post(server.url, data=json.dumps(event), timeout=10,
                         headers={"Content-Type": "application/cloudevents+json"})


def test_pubsub_closure_priced_duplicate_and_malformed(function: Server) -> None:
    events = [
        cloud_event("1001", CLOSED_SESSION),
        cloud_event("1001", CLOSED_SESSION),  # at-least-once redelivery
        cloud_event("1002", b"\xff not json"),
        cloud_event("1003", {**CLOSED_SESSION, "session_id": "S-9", "end": "2026-11-24T09:00:00Z"}),
        cloud_event("1004", {"session_id": "S-10", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T11:00:00Z",
                             "kwh": 10, "currency": "EUR"}, {"event": "session.completed", "tenant_id": "t2"}),
    ]
    for event in events:
        assert_envelope_valid(event)
        # malformed messages are acknowledged (2xx): a poison message must not be redelivered forever
        assert post(function, event).status_code == 200
    lines = function.wait_for(5)
    assert lines[0]["severity"] == "INFO" and lines[0]["outcome"]["total_cost"] == "6.50"
    assert lines[1]["outcome"]["status"] == "duplicate"
    assert lines[2]["severity"] == "WARNING" and lines[2]["field"] == "data.message.data"
    assert lines[3]["field"] == "session.end" and "before start" in lines[3]["reason"]
    assert lines[4]["outcome"]["total_cost"] == "3.57"
    if function.database_url:  # persisted through the storage layer the API uses
        from connector.billing.intake import DatabaseSink
        from tests.ingest.probe import billed, stored

        sink = DatabaseSink.from_url(function.database_url)
        assert billed(sink, "default", "S-123")["amount_due"] == "6.50"
        assert stored(sink, "t2", "S-10")["sources"] == ["pubsub"]


def test_vendor_example_is_accepted_by_the_framework(function: Server) -> None:
    example = load_example("gcp_functions/pubsub_cloudevent.json")
    assert_envelope_valid(example)
    assert post(function, example).status_code == 200
    line = function.wait_for(1)[0]
    # {"session_id": "S-123"} closes a session this tenant never saw start: named, not crashed
    assert line["severity"] == "WARNING" and line["field"] == "session.start"
