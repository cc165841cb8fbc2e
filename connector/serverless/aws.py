"""AWS Lambda handler for session events from SNS (asynchronous invocation) or SQS (event source mapping).

Each record is parsed with aws-lambda-powertools' models (``SnsRecordModel``, ``SqsRecordModel``; an SQS
body may be an SNS notification, unwrapped), its message JSON-decoded and normalised
(``connector.ingest.messages``), then ingested through the one pipeline (dedupe on ``event_id``, default
``sns:<MessageId>`` / ``sqs:<messageId>``). Failures are sorted, never swallowed:

- a **permanent** refusal (bad JSON, a field the pipeline refuses) goes to the dead-letter queue
  (``EVBILL_DEAD_LETTER_QUEUE_URL``) with its field and reason, and the record is done;
- a **transient** error (database down, lock timeout, anything unproven) is retried: SQS records are
  listed in ``batchItemFailures`` (partial batch response; only they come back), an SNS invocation
  raises so Lambda retries it and then hands it to the on-failure destination. Redelivered records that
  were already ingested are answered ``duplicate``. Without a dead-letter queue a permanent refusal of an
  SNS record raises too (the on-failure destination then carries the reason); of an SQS record it is
  listed as failed, for the queue's redrive policy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.parser.models import SnsRecordModel, SqsRecordModel
from pydantic import ValidationError

from connector.config import ServerlessSettings
from connector.ingest.messages import event_from_message
from connector.models.session_event import IngestError
from connector.serverless import dead_letter
from connector.serverless.runtime import get_sink, is_permanent, tenant_id
from connector.validation import ProblemError, field_errors

LOG = logging.getLogger("connector.serverless.aws")


class RetryInvocation(RuntimeError):
    """Raised from an SNS invocation so Lambda retries it (and then dead-letters it): nothing acknowledged
    that was not ingested."""


def _record_id(record: Any, index: int) -> str:
    if isinstance(record, dict) and isinstance(record.get("Sns"), dict):
        return str(record["Sns"].get("MessageId") or f"record-{index}")
    if isinstance(record, dict) and record.get("messageId"):
        return str(record["messageId"])
    return f"record-{index}"


def _is_sqs(record: Any) -> bool:
    return isinstance(record, dict) and record.get("eventSource") == "aws:sqs"


def _raw_message(record: Any) -> str:
    """The message as published (what the dead-letter queue receives)."""
    if not isinstance(record, dict):
        return json.dumps(record, default=str)
    if _is_sqs(record):
        return str(record.get("body") or "")
    message = (record.get("Sns") or {}).get("Message") if isinstance(record.get("Sns"), dict) else None
    return message if isinstance(message, str) else json.dumps(message if message is not None else record)


def _decode(text: Any, field: str) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as exc:
        raise IngestError(field, f"not JSON: {exc.msg}") from exc


def _ingest(payload: Any, *, message_id: str, published: datetime, source: str,
            attributes: Mapping[str, str | None]) -> dict[str, Any]:
    event = event_from_message(payload, message_id=message_id, published=published, source=source,
                               event_name=attributes.get("event"))
    return get_sink().ingest(attributes.get("tenant_id") or tenant_id(), event).to_dict()


def process_record(record: Any, index: int) -> dict[str, Any]:
    """One SNS record → ingest outcome dict; raises ``IngestError`` for a malformed record."""
    try:
        parsed = SnsRecordModel.model_validate(record)
    except ValidationError as exc:
        first = field_errors(exc, f"Records[{index}]")[0]
        raise IngestError(first["field"], first["reason"]) from exc
    sns = parsed.Sns
    payload = _decode(sns.Message, f"Records[{index}].Sns.Message")
    attributes = {name: value.Value for name, value in (sns.MessageAttributes or {}).items()}
    return _ingest(payload, message_id=sns.MessageId, published=sns.Timestamp, source="sns", attributes=attributes)


def process_sqs_record(record: Any, index: int) -> dict[str, Any]:
    """One SQS record (its body a message, or an SNS notification when the queue subscribes a topic)."""
    try:
        parsed = SqsRecordModel.model_validate(record)
    except ValidationError as exc:
        first = field_errors(exc, f"Records[{index}]")[0]
        raise IngestError(first["field"], first["reason"]) from exc
    body = _decode(parsed.body, f"Records[{index}].body")
    if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
        notification = {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn":
                        parsed.eventSourceARN, "Sns": {**body, "MessageAttributes": body.get("MessageAttributes")
                                                       or {}}}
        return process_record(notification, index)
    attributes = {name: value.stringValue for name, value in (parsed.messageAttributes or {}).items()}
    return _ingest(body, message_id=parsed.messageId, published=parsed.attributes.SentTimestamp, source="sqs",
                   attributes=attributes)


def _dead_letter(record: Any, item: str, source: str, field: str, reason: str) -> bool:
    """Send a refused record to the dead-letter queue; False when none is configured."""
    queue = ServerlessSettings.from_environ().dead_letter_queue_url
    if not queue:
        return False
    dead_letter.send(queue, _raw_message(record), source=source, message_id=item, field=field, reason=reason)
    return True


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        LOG.error("rejected invocation: Records: expected a list of SNS or SQS records")
        return {"batchItemFailures": [], "rejected": [{"field": "Records", "reason": "expected a list"}]}
    failures: list[dict[str, str]] = []
    rejected: list[dict[str, str]] = []
    results: list[dict[str, Any]] = []
    retry: list[str] = []
    sqs = bool(records) and all(_is_sqs(r) for r in records)
    for index, record in enumerate(records):
        item = _record_id(record, index)
        source = "sqs" if _is_sqs(record) else "sns"
        try:
            results.append(process_sqs_record(record, index) if _is_sqs(record) else process_record(record, index))
            continue
        except Exception as exc:  # noqa: BLE001 - sorted below: permanent refusal or retry
            error = exc
        if isinstance(error, ProblemError) and is_permanent(error):
            field, reason = error.field or "message", error.reason
            why = f"{field}: {reason}"
            LOG.warning("rejected %s record %s: %s", source.upper(), item, why)
            rejected.append({"itemIdentifier": item, "field": field, "reason": reason})
            try:
                if _dead_letter(record, item, source, field, reason):
                    continue
            except Exception:  # noqa: BLE001 - the dead-letter queue is unreachable: retry the record later
                LOG.exception("dead-letter queue unreachable for %s record %s", source.upper(), item)
        else:
            why = f"{type(error).__name__}: {error}"[:300]
            LOG.error("transient failure of %s record %s: %s", source.upper(), item, why, exc_info=error)
        failures.append({"itemIdentifier": item})
        retry.append(f"{item}: {why}")
    out = {"batchItemFailures": failures, "rejected": rejected, "results": results}
    if failures and not sqs:  # SNS ignores the answer: only an error makes Lambda retry / dead-letter
        raise RetryInvocation(f"{len(failures)} of {len(records)} records not ingested: {'; '.join(retry)}")
    return out
