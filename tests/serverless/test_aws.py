"""AWS Lambda SNS handler: powertools parsing, dedupe, partial batch failures, SAM template lint."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from connector.serverless.aws import handler
from tests.ingest.probe import billed, stored
from tests.paths import REPO, VENDOR_SPECS
from tests.serverless.conftest import CLOSED_SESSION, load_example, sns_event
from tests.serverless.local_aws import local_aws, moto_endpoint

__all__ = ["local_aws", "moto_endpoint"]

SCHEMA = json.loads((VENDOR_SPECS / "aws_lambda" / "sns_event.schema.json").read_text(encoding="utf-8"))


def assert_sns_valid(event: dict) -> None:
    errors = list(Draft202012Validator(SCHEMA, format_checker=FormatChecker()).iter_errors(event))
    assert not errors, [e.message for e in errors]


@pytest.fixture
def dlq(local_aws, monkeypatch: pytest.MonkeyPatch) -> str:
    """A dead-letter queue on the local AWS, named to the handler by EVBILL_DEAD_LETTER_QUEUE_URL."""
    import boto3

    url = str(boto3.client("sqs").create_queue(QueueName="evbill-test-dlq")["QueueUrl"])
    monkeypatch.setenv("EVBILL_DEAD_LETTER_QUEUE_URL", url)
    return url


def test_closure_priced_duplicate_ignored_bad_record_reported(memory_sink, dlq) -> None:
    event = sns_event(
        ("m-1", CLOSED_SESSION),
        ("m-1", CLOSED_SESSION),  # SNS redelivery: same MessageId
        ("m-2", "{not json"),
        ("m-3", {"session_id": "S-404", "kwh": 3}),  # closes a session never started
    )
    assert_sns_valid(event)
    out = handler(event, None)
    assert out["batchItemFailures"] == []  # both refusals went to the dead-letter queue
    assert [r["itemIdentifier"] for r in out["rejected"]] == ["m-2", "m-3"]
    assert out["rejected"][0]["field"] == "Records[2].Sns.Message"
    assert out["rejected"][0]["reason"].startswith("not JSON")
    assert out["rejected"][1]["field"] == "session.start"
    assert [r["status"] for r in out["results"]] == ["accepted", "duplicate"]
    assert out["results"][0]["total_cost"] == "6.50"
    rated = billed(memory_sink, "default", "S-123")
    assert (rated["net_total"], rated["tax_total"]) == ("5.46", "1.04")


def test_session_events_and_tenant_attribute(memory_sink) -> None:
    start = {"event_id": "evt-1", "type": "start", "session_id": "S-7", "timestamp": "2026-11-24T10:00:00Z",
             "session": {"start": "2026-11-24T10:00:00Z", "station_id": "CP-1"}}
    end = {"event_id": "evt-2", "type": "end", "session_id": "S-7", "timestamp": "2026-11-24T11:00:00Z",
           "session": {"end": "2026-11-24T11:00:00Z", "energy_kwh": "10"},
           "meter_samples": [["2026-11-24T10:30:00Z", "6", "12"]]}
    out = handler(sns_event(("a", start), ("b", end), attributes={"tenant_id": "t9"}), None)
    assert out["batchItemFailures"] == []
    # the same events re-published under new SNS ids: deduped on event_id
    again = handler(sns_event(("c", start), ("d", end), attributes={"tenant_id": "t9"}), None)
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
    assert billed(memory_sink, "t9", "S-7")["amount_due"] == "3.57"
    assert stored(memory_sink, "t9", "S-7")["meter_samples"][0]["power_kw"] == "12"


def test_vendor_examples_parse(memory_sink, dlq) -> None:
    for name in ("aws_lambda/sns_event.json", "aws_lambda/sns_event_fifo.json"):
        event = load_example(name)
        assert_sns_valid(event)
        out = handler(event, None)
        # the examples close sessions this tenant never saw start: rejected, named, not crashed
        assert len(out["rejected"]) == 1 and out["batchItemFailures"] == []
        assert out["rejected"][0]["field"] == "session.start"


def test_malformed_envelope(memory_sink, dlq) -> None:
    event = sns_event(("m-1", CLOSED_SESSION))
    del event["Records"][0]["Sns"]["TopicArn"]
    out = handler(event, None)
    assert out["rejected"] == [{"itemIdentifier": "m-1", "field": "Records[0].Sns.TopicArn",
                                "reason": "Field required"}]
    assert handler({"nope": 1}, None)["rejected"][0]["field"] == "Records"
    bad_event = sns_event(("m-9", {"session_id": "S-1", "start": "yesterday", "end": "2026-11-24T10:00:00Z"}))
    rejected = handler(bad_event, None)["rejected"][0]
    assert rejected["field"] == "session.start"


@pytest.mark.skipif(shutil.which("cfn-lint") is None, reason="cfn-lint is a dev dependency")
def test_sam_template_passes_cfn_lint() -> None:
    run = subprocess.run(["cfn-lint", str(REPO / "deploy" / "aws" / "template.yaml")], capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
