"""HMAC-SHA256 signatures over ``f"{timestamp}.{body}"`` for inbound and outbound webhooks.

Outbound deliveries carry ``X-Evbill-Timestamp: <unix seconds>`` and ``X-Evbill-Signature: v1=<hex>``;
a receiver recomputes the HMAC and rejects a timestamp outside the tolerance window (replay defence).
Several ``v1=`` values (comma separated) are accepted so a secret can be rotated without downtime.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from connector.validation import FieldError

SIGNATURE_HEADER = "X-Evbill-Signature"
TIMESTAMP_HEADER = "X-Evbill-Timestamp"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def signature(secret: str | bytes, timestamp: int | str, body: str | bytes) -> str:
    """Hex HMAC-SHA256 of ``timestamp.body`` with ``secret``."""
    message = _bytes(str(timestamp)) + b"." + _bytes(body)
    return hmac.new(_bytes(secret), message, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, timestamp: int | str | None, body: str | bytes) -> dict[str, str]:
    """Headers for an outbound request (``timestamp`` None = now)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: f"{SCHEME}={signature(secret, ts, body)}"}


class SignatureError(FieldError):
    """Why a signature was rejected (``field`` = the header at fault)."""


def verify(
    secret: str | bytes | list[str | bytes],
    timestamp: str | int | None,
    body: str | bytes,
    signature_header: str | None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise ``SignatureError`` unless one ``v1=`` value matches one secret and the timestamp is fresh."""
    if timestamp is None or str(timestamp).strip() == "":
        raise SignatureError(TIMESTAMP_HEADER, "missing")
    try:
        ts = int(str(timestamp).strip())
    except ValueError as exc:
        raise SignatureError(TIMESTAMP_HEADER, "not a unix timestamp in seconds") from exc
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise SignatureError(TIMESTAMP_HEADER, f"outside the {tolerance}s tolerance window")
    if not signature_header:
        raise SignatureError(SIGNATURE_HEADER, "missing")
    given = [part.strip() for part in signature_header.split(",") if part.strip()]
    values = [p.split("=", 1)[1] if p.startswith(f"{SCHEME}=") else p for p in given]
    secrets = secret if isinstance(secret, list) else [secret]
    for key in secrets:
        expected = signature(key, ts, body)
        if any(hmac.compare_digest(expected, v) for v in values):
            return
    raise SignatureError(SIGNATURE_HEADER, "does not match the body")


def is_valid(secret: str | bytes | list[str | bytes], timestamp: str | int | None, body: str | bytes,
             signature_header: str | None, tolerance: int = DEFAULT_TOLERANCE_SECONDS,
             now: float | None = None) -> bool:
    try:
        verify(secret, timestamp, body, signature_header, tolerance, now)
    except SignatureError:
        return False
    return True
