"""AWS Lambda handler for SNS-delivered session events.

Each record is parsed with aws-lambda-powertools' ``SnsRecordModel`` (the AWS-published pydantic model),
its ``Message`` JSON-decoded and normalised (``connector.ingest.messages``), then ingested through the
one pipeline (dedupe on ``event_id``, default ``sns:<MessageId>``). One bad record never fails the
batch: it is logged with field + reason and listed in ``batchItemFailures``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.parser.models import SnsRecordModel
from pydantic import ValidationError

from connector.ingest.messages import event_from_message
from connector.models.session_event import IngestError
from connector.serverless.runtime import get_sink, tenant_id
from connector.validation import field_errors

LOG = logging.getLogger("connector.serverless.aws")


def _record_id(record: Any, index: int) -> str:
    if isinstance(record, dict) and isinstance(record.get("Sns"), dict):
        return str(record["Sns"].get("MessageId") or f"record-{index}")
    return f"record-{index}"


def process_record(record: Any, index: int) -> dict[str, Any]:
    """One SNS record → ingest outcome dict; raises ``IngestError`` for a malformed record."""
    try:
        parsed = SnsRecordModel.model_validate(record)
    except ValidationError as exc:
        first = field_errors(exc, f"Records[{index}]")[0]
        raise IngestError(first["field"], first["reason"]) from exc
    sns = parsed.Sns
    try:
        payload = json.loads(sns.Message) if isinstance(sns.Message, str) else sns.Message
    except json.JSONDecodeError as exc:
        raise IngestError(f"Records[{index}].Sns.Message", f"not JSON: {exc.msg}") from exc
    attributes = sns.MessageAttributes or {}
    event_name = attributes["event"].Value if "event" in attributes else None
    tenant = attributes["tenant_id"].Value if "tenant_id" in attributes else tenant_id()
    published: datetime = sns.Timestamp
    event = event_from_message(payload, message_id=sns.MessageId, published=published, source="sns",
                               event_name=event_name)
    return get_sink().ingest(tenant, event).to_dict()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        LOG.error("rejected invocation: Records: expected a list of SNS records")
        return {"batchItemFailures": [], "rejected": [{"field": "Records", "reason": "expected a list"}]}
    failures: list[dict[str, str]] = []
    rejected: list[dict[str, str]] = []
    results: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        item = _record_id(record, index)
        try:
            results.append(process_record(record, index))
        except IngestError as exc:
            LOG.warning("rejected SNS record %s: %s: %s", item, exc.field, exc.reason)
            failures.append({"itemIdentifier": item})
            rejected.append({"itemIdentifier": item, "field": exc.field, "reason": exc.reason})
        except Exception:  # noqa: BLE001 - transient (database) errors: report the item, keep going
            LOG.exception("failed SNS record %s", item)
            failures.append({"itemIdentifier": item})
    return {"batchItemFailures": failures, "rejected": rejected, "results": results}
