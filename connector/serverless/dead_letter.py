"""Where a permanently bad message goes: an SQS queue, with the reason it was refused.

Why: retrying a message that can never be ingested only delays it and hides the reason; dropping it
loses a session. The original message body is sent unchanged, the refusal as message attributes
(``field``, ``reason``, ``source``, ``message_id``), so an operator can fix the cause and re-publish.
"""

from __future__ import annotations

from typing import Any

_client: Any = None


def _sqs() -> Any:
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("sqs")
    return _client


def reset() -> None:
    """Forget the client (tests point boto3 at another endpoint)."""
    global _client
    _client = None


def send(queue_url: str, body: str, *, source: str, message_id: str, field: str, reason: str) -> str:
    """Put one refused message on the dead-letter queue; returns the SQS message id (raises on failure)."""
    attributes = {name: {"DataType": "String", "StringValue": value[:1024] or "-"}
                  for name, value in (("source", source), ("message_id", message_id), ("field", field),
                                      ("reason", reason))}
    answer = _sqs().send_message(QueueUrl=queue_url, MessageBody=body or "-", MessageAttributes=attributes)
    return str(answer["MessageId"])
