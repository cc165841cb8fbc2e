"""Signed webhook delivery: the envelope as JSON, HMAC-SHA256 over ``timestamp.body`` (connector.security).

Headers (docs/events.md): ``X-Evbill-Timestamp`` (unix seconds), ``X-Evbill-Signature: v1=<hex>`` (same
scheme as inbound webhooks, so one verifier serves both), ``Idempotency-Key`` (stable per event and
subscription: a receiver that dedupes on it sees each event once even when the worker redelivers after a
crash), ``X-Evbill-Event-Id``, ``X-Evbill-Event-Type`` and ``X-Evbill-Delivery-Id``.
"""

from __future__ import annotations

import json
from typing import Any

from connector.models.documents import EventJson
from connector.security import hmac_sign

IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_ID_HEADER = "X-Evbill-Event-Id"
EVENT_TYPE_HEADER = "X-Evbill-Event-Type"
DELIVERY_ID_HEADER = "X-Evbill-Delivery-Id"


def body_of(event: EventJson) -> bytes:
    """Compact JSON: the exact bytes that are signed and sent."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def headers_for(event: EventJson, body: bytes, secret: str, idempotency_key: str, delivery_id: str,
                timestamp: int | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": "evbill-webhooks/1",
            **hmac_sign.sign(secret, timestamp, body), IDEMPOTENCY_HEADER: idempotency_key,
            EVENT_ID_HEADER: str(event["id"]), EVENT_TYPE_HEADER: str(event["type"]),
            DELIVERY_ID_HEADER: delivery_id}


def deliver(event: EventJson, url: str, secret: str, http: Any, idempotency_key: str,
            delivery_id: str) -> dict[str, Any]:
    """POST the signed envelope; the sender raises Retryable/PermanentError for non-2xx answers."""
    body = body_of(event)
    resp = http.send("POST", url, data=body, headers=headers_for(event, body, secret, idempotency_key,
                                                                  delivery_id))
    return {"status": "sent", "http_status": resp.status_code}
