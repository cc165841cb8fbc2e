"""Delivery errors every adapter and the sender raise, so the outbox worker knows whether to retry.

``RetryableError``: the target may accept the same request later (429, 5xx, connection trouble); the
worker backs off, honouring ``retry_after`` (seconds) when the vendor sent one. ``PermanentError``: the
request itself is wrong (other 4xx, bad config); retrying cannot help, so the delivery is marked failed.
"""

from __future__ import annotations

from connector.validation import FieldError


class DeliveryError(Exception):
    """Base of both, so callers can catch either with one clause."""


class RetryableError(DeliveryError):
    """Try again later; ``retry_after`` = seconds the vendor asked us to wait (None = our own backoff)."""

    def __init__(self, message: str, retry_after: float | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.status_code = status_code


class PermanentError(DeliveryError):
    """Do not retry: the vendor rejected the request (its message is in ``str(exc)``)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code  # lets oauth.send_authorized spot a 401 without parsing text


class MappingError(FieldError):
    """A value an adapter's mapping needs is missing or inconsistent; ``field`` names it (config or event path)."""
