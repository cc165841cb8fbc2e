"""Station passwords (OCPP security profiles 1 and 2): stored only as an scrypt hash.

Why scrypt from the standard library: a memory-hard KDF with no extra dependency. The stored form is
self-describing (``scrypt$n$r$p$salt$hash``, base64) so the cost can be raised later without breaking
stored hashes. Password rules follow OCPP 2.0.1 ``SecurityCtrlr.BasicAuthPassword`` (passwordString,
16 to 40 characters), which also fits OCPP 1.6's ``AuthorizationKey``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

N, R, P = 2**14, 8, 1
MIN_LENGTH, MAX_LENGTH = 16, 40
# OCPP passwordString: "any printable UTF-8 except the control characters"; we also exclude ':' because
# a Basic credential ``id:password`` is split at the first colon only, and spaces for copy-paste safety.
_ALPHABET = string.ascii_letters + string.digits + "-_.~!*+="


def check_password(password: str) -> None:
    """Raise ``ValueError`` naming the rule a password breaks."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValueError(f"password: must be {MIN_LENGTH} to {MAX_LENGTH} characters (OCPP BasicAuthPassword)")
    if any(not c.isprintable() or c.isspace() for c in password):
        raise ValueError("password: printable characters only, no spaces")


def generate_password(length: int = 32) -> str:
    """A random password for a station (used for CSMS-initiated rotation)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    check_password(password)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time comparison; an unknown or malformed stored hash never verifies."""
    if not stored:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)
