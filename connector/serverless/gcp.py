"""Google Cloud Functions (2nd gen) CloudEvent function for Pub/Sub session-closure messages.

``functions-framework --source connector/serverless/gcp.py --target on_session_message
--signature-type cloudevent``. The Pub/Sub ``message.data`` (base64 JSON) is normalised like every
other message and ingested through the one pipeline (dedupe on ``event_id``, default
``pubsub:<messageId>``). A malformed message is logged with field + reason and acknowledged (a poison
message would otherwise be redelivered forever); storage errors raise so Pub/Sub retries.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from connector.ingest.messages import event_from_message
from connector.models.session_event import IngestError
from connector.serverless.runtime import get_sink, tenant_id

PUBSUB_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"


def _published(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise IngestError("data.message.publishTime", f"'{value}' is not an RFC 3339 time") from exc


def process(ce_type: str, ce_id: str, ce_time: Any, data: Any) -> dict[str, Any]:
    if ce_type != PUBSUB_TYPE:
        raise IngestError("type", f"expected {PUBSUB_TYPE}, got '{ce_type}'")
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise IngestError("data.message", "required (Pub/Sub MessagePublishedData)")
    try:
        raw = base64.b64decode(message.get("data") or "", validate=True)
        payload = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise IngestError("data.message.data", f"expected base64-encoded JSON ({exc})") from exc
    attributes = message.get("attributes") or {}
    event = event_from_message(
        payload, message_id=str(message.get("messageId") or ce_id),
        published=_published(message.get("publishTime") or ce_time or datetime.now(UTC).isoformat()),
        source="pubsub", event_name=attributes.get("event"))
    return get_sink().ingest(attributes.get("tenant_id") or tenant_id(), event).to_dict()


def _log(severity: str, message: str, **fields: Any) -> None:
    """One JSON line on stdout: Cloud Logging turns it into a structured entry with this severity."""
    print(json.dumps({"severity": severity, "message": message, **fields}), flush=True)


@functions_framework.cloud_event
def on_session_message(cloud_event: CloudEvent) -> None:
    ce_id = cloud_event["id"]
    try:
        outcome = process(cloud_event["type"], ce_id, cloud_event.get("time"), cloud_event.data)
    except IngestError as exc:
        _log("WARNING", f"rejected Pub/Sub message {ce_id}", ce_id=ce_id, field=exc.field, reason=exc.reason)
        return
    _log("INFO", f"ingested Pub/Sub message {ce_id}", ce_id=ce_id, outcome=outcome)
