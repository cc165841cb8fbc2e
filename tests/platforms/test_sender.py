"""HttpSender classifies every outcome; logs carry a request id and no secrets; DryRunSender writes JSONL."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from connector.platforms.dryrun import DryRunSender
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.sender import HttpSender, parse_retry_after, safe_url
from tests.platforms.fakes.scripted import vendor

SECRET = "sk_test_51HsecretSECRETsecret"


def test_success_and_headers_pass_through(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="connector.platforms.sender")
    with vendor([(201, {"Request-Id": "req_vendor_1"}, b'{"id": "in_1"}')]) as v:
        resp = HttpSender(target="platform:x").send("POST", v["url"] + "/v1/invoices",
                                                    headers={"Authorization": f"Bearer {SECRET}"}, json={"a": "1"})
    assert resp.status_code == 201 and resp.json() == {"id": "in_1"}
    assert v["requests"][0]["headers"]["Authorization"] == f"Bearer {SECRET}"
    [record] = [r for r in caplog.records if r.name == "connector.platforms.sender"]
    fields = record.evbill  # type: ignore[attr-defined]
    assert fields["request_id"].startswith("req_") and fields["vendor_request_id"] == "req_vendor_1"
    assert (fields["status"], fields["outcome"], fields["target"]) == (201, "ok", "platform:x")
    assert SECRET not in caplog.text and SECRET not in json.dumps(fields)


def test_429_with_seconds_then_http_date_then_500() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    script = [(429, {"Retry-After": "7"}, b"slow down"), (429, {"Retry-After": format_datetime(when, usegmt=True)}, b""),
              (500, {}, b'{"error": "boom"}')]
    sender = HttpSender()
    with vendor(script) as v:
        with pytest.raises(RetryableError) as first:
            sender.send("POST", v["url"] + "/a")
        with pytest.raises(RetryableError) as second:
            sender.send("POST", v["url"] + "/a")
        with pytest.raises(RetryableError) as third:
            sender.send("POST", v["url"] + "/a")
    assert first.value.retry_after == 7.0 and first.value.status_code == 429
    assert str(first.value) == f"HTTP 429 from {v['url']}/a: slow down"
    assert 115 <= (second.value.retry_after or 0) <= 120
    assert third.value.retry_after is None and third.value.status_code == 500


def test_other_4xx_is_permanent_with_the_vendor_message() -> None:
    with vendor([(400, {}, b'{"error": {"message": "Missing required param: customer."}}')]) as v:
        with pytest.raises(PermanentError) as exc:
            HttpSender().send("POST", v["url"] + "/v1/invoiceitems")
    assert exc.value.status_code == 400
    assert str(exc.value).endswith('{"error": {"message": "Missing required param: customer."}}')


def test_redirect_is_not_followed() -> None:
    with vendor([(302, {"Location": "/elsewhere"}, b"")]) as v:
        with pytest.raises(PermanentError, match="HTTP 302"):
            HttpSender().send("POST", v["url"] + "/hook")
    assert len(v["requests"]) == 1


def test_connection_refused_and_read_timeout_are_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RetryableError, match="ConnectionError"):
        HttpSender().send("GET", f"http://127.0.0.1:{port}/")
    with vendor([(200, {}, b"{}")], delay=1.0) as v:
        with pytest.raises(RetryableError, match="ReadTimeout"):
            HttpSender(read_timeout=0.2).send("GET", v["url"] + "/slow")


def test_retry_after_parsing() -> None:
    now = datetime(2026, 1, 13, 15, 30, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Tue, 13 Jan 2026 15:31:00 GMT", now) == 60.0
    assert parse_retry_after("Tue, 13 Jan 2026 15:00:00 GMT", now) == 0.0  # in the past: now
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


def test_safe_url_masks_token_segments_and_query() -> None:
    url = "https://hooks.slack.com/services/T0000/B0000/XXXXabcd1234XXXXabcd1234?token=abc"
    assert safe_url(url) == "https://hooks.slack.com/services/T0000/B0000/***"


def test_dry_run_writes_masked_json_lines(tmp_path) -> None:
    out = tmp_path / "review" / "requests.jsonl"
    sender = DryRunSender(out, target="platform:plaid")
    resp = sender.send("POST", "https://sandbox.plaid.com/transfer/authorization/create?requestid=r1&token=t",
                       headers={"Authorization": f"Bearer {SECRET}", "Idempotency-Key": "S-1:auth"},
                       json={"client_id": "cid", "secret": SECRET, "amount": "3.57"})
    sender.send("POST", "https://example.com/x", data=b"plain", auth=("user", SECRET))
    assert resp.status_code == 200 and resp.json() == {"dry_run": True}
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert (first["method"], first["url"], first["target"]) == (
        "POST", "https://sandbox.plaid.com/transfer/authorization/create", "platform:plaid")
    assert first["query"] == {"requestid": "r1", "token": "***"}
    assert first["headers"] == {"Authorization": "***", "Idempotency-Key": "S-1:auth"}
    assert first["json"] == {"client_id": "cid", "secret": "***", "amount": "3.57"}
    assert lines[1]["auth"] == "***" and lines[1]["data"] == "plain"
    assert SECRET not in out.read_text()
