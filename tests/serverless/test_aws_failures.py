"""AWS Lambda: transient errors are retried (SNS: the invocation raises; SQS: partial batch failures),
permanent refusals land on the dead-letter queue with their reason, and the database URL is read from a
secret reference at cold start. AWS itself is moto's server on 127.0.0.1 (tests/serverless/local_aws.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from connector.models.session_event import SessionEvent
from connector.models.sink import IngestOutcome
from connector.serverless import runtime
from connector.serverless.aws import RetryInvocation, handler
from connector.serverless.runtime import set_sink
from tests.ingest.probe import billed
from tests.serverless.conftest import CLOSED_SESSION, sns_event
from tests.serverless.local_aws import local_aws, moto_endpoint

boto3 = pytest.importorskip("boto3", reason="boto3 is a dev dependency")

__all__ = ["local_aws", "moto_endpoint"]


class FlakySink:
    """The real sink, except that the first ``failures`` calls find the database gone (as psycopg reports it)."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner, self.failures, self.calls = inner, failures, 0

    def ingest(self, tenant_id: str, event: SessionEvent) -> IngestOutcome:
        self.calls += 1
        if self.calls <= self.failures:
            raise OperationalError("INSERT ...", {}, Exception("server closed the connection unexpectedly"))
        return self.inner.ingest(tenant_id, event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def sqs_event(*bodies: tuple[str, Any]) -> dict[str, Any]:
    """An SQS event-source-mapping event, one record per (messageId, body)."""
    return {"Records": [{
        "messageId": message_id, "receiptHandle": f"rh-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764000000000", "SenderId": "AIDA",
                       "ApproximateFirstReceiveTimestamp": "1764000000001"},
        "messageAttributes": {}, "md5OfBody": "0" * 32, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:evbill-sessions", "awsRegion": "eu-central-1",
    } for message_id, body in bodies]}


def make_queue(name: str) -> str:
    return str(boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"])


def dead_letters(queue_url: str) -> list[dict[str, Any]]:
    got = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                              MessageAttributeNames=["All"])
    return [{"body": m["Body"], **{k: v["StringValue"] for k, v in m["MessageAttributes"].items()}}
            for m in got.get("Messages", [])]


def test_sns_transient_error_raises_then_the_retry_bills_once(memory_sink) -> None:
    flaky = FlakySink(memory_sink, failures=1)
    set_sink(flaky)
    event = sns_event(("m-1", CLOSED_SESSION))
    with pytest.raises(RetryInvocation, match="m-1: OperationalError"):
        handler(event, None)  # before: returned normally, and Lambda dropped the session
    again = handler(event, None)  # Lambda's retry of the same invocation
    assert [r["status"] for r in again["results"]] == ["accepted"]
    assert handler(event, None)["results"][0]["status"] == "duplicate"  # at-least-once: billed once
    assert billed(memory_sink, "default", "S-123")["amount_due"] == "6.50"


def test_sqs_reports_only_the_transient_items(memory_sink) -> None:
    set_sink(FlakySink(memory_sink, failures=1))
    other = {**CLOSED_SESSION, "session_id": "S-124"}
    out = handler(sqs_event(("q-1", CLOSED_SESSION), ("q-2", other)), None)
    assert out["batchItemFailures"] == [{"itemIdentifier": "q-1"}]  # SQS redelivers just this one
    assert [r["session_id"] for r in out["results"]] == ["S-124"]
    retried = handler(sqs_event(("q-1", CLOSED_SESSION)), None)
    assert retried["batchItemFailures"] == [] and retried["results"][0]["status"] == "accepted"
    assert billed(memory_sink, "default", "S-123")["amount_due"] == "6.50"


def test_sqs_body_may_be_an_sns_notification(memory_sink) -> None:
    note = {"Type": "Notification", "MessageId": "sns-77", "TopicArn": "arn:aws:sns:eu-central-1:1:t",
            "Message": json.dumps(CLOSED_SESSION), "Timestamp": "2026-11-24T10:31:00.000Z",
            "SignatureVersion": "1", "Signature": "x", "SigningCertUrl": "https://sns.eu-central-1.amazonaws.com/c.pem",
            "UnsubscribeUrl": "https://sns.eu-central-1.amazonaws.com/u", "Subject": None,
            "MessageAttributes": {"tenant_id": {"Type": "String", "Value": "t5"}}}
    out = handler(sqs_event(("q-9", note)), None)
    assert out["results"][0]["event_id"] == "sns:sns-77"  # the same id as a direct SNS delivery
    assert billed(memory_sink, "t5", "S-123")["amount_due"] == "6.50"


def test_permanent_refusals_are_dead_lettered_with_the_reason(memory_sink, local_aws, monkeypatch) -> None:
    queue = make_queue("evbill-dlq-1")
    monkeypatch.setenv("EVBILL_DEAD_LETTER_QUEUE_URL", queue)
    out = handler(sns_event(("m-1", CLOSED_SESSION), ("m-2", "{not json"),
                            ("m-3", {"session_id": "S-404", "kwh": 3})), None)
    assert out["batchItemFailures"] == []  # nothing to retry: the invocation succeeds
    assert [r["status"] for r in out["results"]] == ["accepted"]
    letters = sorted(dead_letters(queue), key=lambda m: m["message_id"])
    assert [(m["message_id"], m["source"], m["field"]) for m in letters] == [
        ("m-2", "sns", "Records[1].Sns.Message"), ("m-3", "sns", "session.start")]
    assert letters[0]["body"] == "{not json" and letters[0]["reason"].startswith("not JSON")
    assert json.loads(letters[1]["body"]) == {"session_id": "S-404", "kwh": 3}
    sqs_out = handler(sqs_event(("q-5", "[1, 2")), None)
    assert sqs_out["batchItemFailures"] == []
    assert dead_letters(queue)[0]["field"] == "Records[0].body"


def test_without_a_dead_letter_queue_a_refusal_is_not_acknowledged(memory_sink) -> None:
    with pytest.raises(RetryInvocation, match="m-2: Records.0..Sns.Message: not JSON"):
        handler(sns_event(("m-2", "{not json")), None)  # the on-failure destination gets the reason
    assert handler(sqs_event(("q-2", "{no")), None)["batchItemFailures"] == [{"itemIdentifier": "q-2"}]


def test_unreachable_dead_letter_queue_retries(memory_sink, local_aws, monkeypatch) -> None:
    monkeypatch.setenv("EVBILL_DEAD_LETTER_QUEUE_URL", local_aws + "/123456789012/no-such-queue")
    out = handler(sqs_event(("q-3", "{no")), None)
    assert out["batchItemFailures"] == [{"itemIdentifier": "q-3"}]


@pytest.mark.parametrize("store", ["secretsmanager", "ssm", "rds-json"])
def test_database_url_comes_from_a_secret_reference(store: str, local_aws, monkeypatch, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'lambda.db'}"
    if store == "secretsmanager":
        arn = boto3.client("secretsmanager").create_secret(Name="evbill-db", SecretString=url)["ARN"]
    elif store == "ssm":
        boto3.client("ssm").put_parameter(Name="/evbill/db-url", Value=url, Type="SecureString", Overwrite=True)
        arn = "arn:aws:ssm:eu-central-1:123456789012:parameter/evbill/db-url"
    else:
        secret = {"engine": "postgres", "username": "evbill", "password": "p@ss:word", "host": "db.internal",
                  "port": 5432, "dbname": "evbill"}
        arn = boto3.client("secretsmanager").create_secret(Name="rds-db", SecretString=json.dumps(secret))["ARN"]
    monkeypatch.setenv("EVBILL_DATABASE_URL_SECRET", arn)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///must-not-be-used.db")
    if store == "rds-json":
        assert runtime.database_url() == "postgresql+psycopg://evbill:p%40ss%3Aword@db.internal:5432/evbill"
        return
    assert runtime.database_url() == url
    set_sink(None)
    try:
        out = handler(sns_event(("m-1", {**CLOSED_SESSION, "event": "session.started"})), None)
        assert out["results"][0]["status"] == "accepted" and out["rejected"] == []
    finally:
        set_sink(None)
    assert (tmp_path / "lambda.db").exists()


def test_a_bad_secret_reference_names_the_variable(monkeypatch) -> None:
    from connector.config import ConfigError

    monkeypatch.setenv("EVBILL_DATABASE_URL_SECRET", "postgresql://user:pw@host/db")
    with pytest.raises(ConfigError, match="EVBILL_DATABASE_URL_SECRET: .* is not a Secrets Manager secret ARN"):
        runtime.database_url()


def test_template_passes_a_secret_reference_not_the_url() -> None:
    from cfnlint.decode import cfn_yaml

    from tests.paths import REPO

    template = cfn_yaml.load(str(REPO / "deploy" / "aws" / "template.yaml"))
    function = template["Resources"]["IngestFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
    assert "DATABASE_URL" not in variables and "resolve:" not in json.dumps(variables)
    assert variables["EVBILL_DATABASE_URL_SECRET"] == {"Ref": "DatabaseUrlSecretArn"}
    assert variables["EVBILL_DEAD_LETTER_QUEUE_URL"] == {"Ref": "SessionEventsDeadLetterQueue"}
    assert {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "DatabaseUrlSecretArn"}}} in function["Policies"]
