"""``Idempotency-Key`` on POST: the same key and body replays the stored response; a different body is a 409.

The key is claimed by inserting ``(tenant, key)`` before the work runs (the primary key makes exactly one
request the owner); a concurrent duplicate waits for the owner's response. A 5xx releases the key so the
client may retry. A claim is a lease: one left unanswered for ``IDEMPOTENCY_LEASE_SECONDS`` (its owner
crashed, e.g. kill -9) is taken over by the next retry, which does the work once.

One database connection per request: the claim, the wait and the stored answer use the request's own
session (``g.db``), released between polls, so concurrent duplicates cannot exhaust the pool.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any

from flask import Response, current_app, make_response, request
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from connector.api.context import db, tenant
from connector.api.errors import ApiError
from connector.api.input_guard import bad_text
from connector.storage.tables.core import IdempotencyKeyRow

HEADER = "Idempotency-Key"
REPLAYED_HEADERS = ("Content-Type", "Location")
POLL_SECONDS = 0.05


def canonical_body(raw: bytes) -> bytes:
    """The body as hashed: a JSON body in its parsed canonical form (keys sorted, no spacing), so the same
    document sent with other spacing or key order is the same request; any other body as sent."""
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        return raw
    try:
        return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=True).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        return raw


def _hash() -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(canonical_body(request.get_data(cache=True)))
    return digest.hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _claim(s: DbSession, tenant_id: str, key: str, digest: str) -> bool:
    """True when this request owns the key: a new claim, or a stale one (its owner never answered) taken over."""
    try:
        s.add(IdempotencyKeyRow(tenant_id=tenant_id, key=key, method=request.method, path=request.path,
                                request_hash=digest, created_at=_now()))
        s.commit()
        return True
    except IntegrityError:
        s.rollback()
    return _take_over(s, tenant_id, key, digest)


def _take_over(s: DbSession, tenant_id: str, key: str, digest: str) -> bool:
    """Take a claim whose lease ran out without an answer (``created_at`` is the current claim's time)."""
    lease = float(current_app.config.get("IDEMPOTENCY_LEASE_SECONDS", 60))
    now = _now()
    taken = s.execute(update(IdempotencyKeyRow).where(
        IdempotencyKeyRow.tenant_id == tenant_id, IdempotencyKeyRow.key == key,
        IdempotencyKeyRow.request_hash == digest, IdempotencyKeyRow.status_code.is_(None),
        IdempotencyKeyRow.created_at < now - timedelta(seconds=lease)).values(created_at=now))
    s.commit()
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        if len(key) > 200:
            raise ApiError.field(HEADER, "at most 200 characters", status=400, title="Bad Request")
        if bad_text(key) is not None:
            raise ApiError.field(HEADER, str(bad_text(key)), status=400, title="Bad Request")
        digest, tenant_id = _hash(), tenant()
        s = db()
        s.rollback()  # authentication's read ends here: the claim starts a transaction of its own
        if not _claim(s, tenant_id, key, digest):
            replayed = _replay(s, tenant_id, key, digest)
            if replayed is not None:
                return replayed
        try:
            response = make_response(view(*args, **kwargs))
        except Exception as exc:  # a 4xx is an answer to replay; the error handlers turn it into a problem
            response = make_response(current_app.handle_user_exception(exc))
        _finish(s, tenant_id, key, response)
        return response

    return wrapper


def _finish(s: DbSession, tenant_id: str, key: str, response: Response) -> None:
    """Store the answer (a 5xx: release the key) on the request's session, after dropping whatever the view
    left uncommitted (a refused use case leaves nothing behind)."""
    s.rollback()
    row = s.get(IdempotencyKeyRow, (tenant_id, key), populate_existing=True)
    if row is not None:
        if response.status_code >= 500:
            s.delete(row)
        else:
            row.status_code = response.status_code
            row.response_body = response.get_data(as_text=True)
            row.response_headers = {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers}
        s.commit()


def _replay(s: DbSession, tenant_id: str, key: str, digest: str) -> Response | None:
    """The owner's stored answer, or None once this request owns the key (the owner released it with a 5xx
    or its lease ran out); a 409 with ``Retry-After`` while the owner is still working."""
    deadline = time.monotonic() + float(current_app.config.get("IDEMPOTENCY_WAIT_SECONDS", 10))
    while True:
        row = s.get(IdempotencyKeyRow, (tenant_id, key), populate_existing=True)
        if row is not None and row.request_hash != digest:
            s.rollback()
            raise ApiError.field(HEADER, "this key was used with a different request body", status=409,
                                 title="Conflict")
        if row is not None and row.status_code is not None:
            response = Response(row.response_body or "", status=row.status_code)
            for name, value in (row.response_headers or {}).items():
                response.headers[name] = value
            response.headers["Idempotent-Replayed"] = "true"
            s.rollback()
            return response
        s.rollback()  # hands the connection back to the pool while we wait
        if _claim(s, tenant_id, key, digest) if row is None else _take_over(s, tenant_id, key, digest):
            return None
        if time.monotonic() > deadline:
            error = ApiError.field(HEADER, "a request with this key is still being processed; retry later",
                                   status=409, title="Conflict")
            error.headers["Retry-After"] = "1"
            raise error
        time.sleep(POLL_SECONDS)
