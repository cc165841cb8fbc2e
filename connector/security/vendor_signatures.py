"""Signatures of inbound payment-platform webhooks, checked on the raw body before anything is parsed.

Each vendor signs differently: Stripe ``Stripe-Signature`` (``t=…,v1=…``; HMAC-SHA256 of ``t.body``, hex, within a
tolerance), Square ``x-square-hmacsha256-signature`` (base64 HMAC-SHA256 of notification URL + body) and Xero
``x-xero-signature`` (base64 HMAC-SHA256 of the body). PayPal signs asymmetrically and is verified by PayPal's
own verify-webhook-signature call (``connector.billing.payments.vendors.paypal``). Every comparison is
constant-time; a failure names the header at fault.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from connector.security.hmac_sign import SignatureError

STRIPE_HEADER = "Stripe-Signature"
SQUARE_HEADER = "x-square-hmacsha256-signature"
XERO_HEADER = "x-xero-signature"
STRIPE_TOLERANCE_SECONDS = 300  # stripe-python's DEFAULT_TOLERANCE


def _hmac(key: str, message: bytes) -> bytes:
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()


def verify_stripe(secrets: list[str], header: str | None, body: bytes, *, now: float | None = None,
                  tolerance: int = STRIPE_TOLERANCE_SECONDS) -> int:
    """Check ``Stripe-Signature`` against every endpoint secret (two while one is rolled); returns ``t``.

    Only ``v1`` counts (a ``v0`` test signature never does); ``t`` older than ``tolerance`` seconds is a replay."""
    if not header:
        raise SignatureError(STRIPE_HEADER, "missing")
    items = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [v.strip() for k, v in items if k.strip() == "t"]
    signatures = [v.strip() for k, v in items if k.strip() == "v1"]
    if not stamps or not stamps[0].isdigit():
        raise SignatureError(STRIPE_HEADER, "no timestamp (t=)")
    if not signatures:
        raise SignatureError(STRIPE_HEADER, "no v1 signature")
    stamp = int(stamps[0])
    payload = stamps[0].encode("ascii") + b"." + body
    expected = [_hmac(secret, payload).hex() for secret in secrets if secret]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise SignatureError(STRIPE_HEADER, "no v1 signature matches the payload")
    if tolerance > 0 and stamp < (time.time() if now is None else now) - tolerance:
        raise SignatureError(STRIPE_HEADER, f"timestamp older than {tolerance} s (replay?)")
    return stamp


def verify_square(signature_key: str, notification_url: str, header: str | None, body: bytes) -> None:
    """Square: base64(HMAC-SHA256(key, URL + body)); the URL byte for byte as registered on the subscription."""
    if not header:
        raise SignatureError(SQUARE_HEADER, "missing")
    expected = base64.b64encode(_hmac(signature_key, notification_url.encode("utf-8") + body)).decode("ascii")
    if not hmac.compare_digest(expected, header.strip()):
        raise SignatureError(SQUARE_HEADER, "does not match the notification URL and body")


def verify_xero(webhook_key: str, header: str | None, body: bytes) -> None:
    """Xero: base64(HMAC-SHA256(webhook key, body)). Intent-to-receive probes are checked the same way: a
    correctly signed one is answered 200, an incorrectly signed one 401."""
    if not header:
        raise SignatureError(XERO_HEADER, "missing")
    expected = base64.b64encode(_hmac(webhook_key, body)).decode("ascii")
    if not hmac.compare_digest(expected, header.strip()):
        raise SignatureError(XERO_HEADER, "does not match the body")
