"""``Idempotency-Key`` on POST: the same key and body replays the stored response; a different body is a 409.

The key is claimed by inserting ``(tenant, key)`` before the work runs (the primary key makes exactly one
request the owner); a concurrent duplicate waits for the owner's response. A 5xx releases the key so the
client may retry.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, make_response, request
from sqlalchemy.exc import IntegrityError

from connector.api.context import SESSIONMAKER_KEY, rollback_db, tenant
from connector.api.errors import ApiError
from connector.storage.tables.core import IdempotencyKeyRow

HEADER = "Idempotency-Key"
REPLAYED_HEADERS = ("Content-Type", "Location")


def _hash() -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        if len(key) > 200:
            raise ApiError.field(HEADER, "at most 200 characters", status=400, title="Bad Request")
        digest, tenant_id = _hash(), tenant()
        sessions = current_app.extensions[SESSIONMAKER_KEY]
        with sessions() as s:
            try:
                s.add(IdempotencyKeyRow(tenant_id=tenant_id, key=key, method=request.method, path=request.path,
                                        request_hash=digest))
                s.commit()
            except IntegrityError:
                s.rollback()
                return _replay(sessions, tenant_id, key, digest)
        try:
            response = make_response(view(*args, **kwargs))
        except Exception as exc:  # a 4xx is an answer to replay; the error handlers turn it into a problem
            rollback_db()  # before the answer is stored from another session (SQLite: one writer)
            response = make_response(current_app.handle_user_exception(exc))
        with sessions() as s:
            row = s.get(IdempotencyKeyRow, (tenant_id, key))
            if row is not None:
                if response.status_code >= 500:
                    s.delete(row)
                else:
                    row.status_code = response.status_code
                    row.response_body = response.get_data(as_text=True)
                    row.response_headers = {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers}
                s.commit()
        return response

    return wrapper


def _replay(sessions: Any, tenant_id: str, key: str, digest: str) -> Response:
    deadline = time.monotonic() + float(current_app.config.get("IDEMPOTENCY_WAIT_SECONDS", 10))
    while True:
        with sessions() as s:
            row = s.get(IdempotencyKeyRow, (tenant_id, key))
            if row is not None and row.request_hash != digest:
                raise ApiError.field(HEADER, "this key was used with a different request body", status=409,
                                     title="Conflict")
            if row is not None and row.status_code is not None:
                response = Response(row.response_body or "", status=row.status_code)
                for name, value in (row.response_headers or {}).items():
                    response.headers[name] = value
                response.headers["Idempotent-Replayed"] = "true"
                return response
        if time.monotonic() > deadline:
            raise ApiError.field(HEADER, "a request with this key is still being processed; retry later",
                                 status=409, title="Conflict")
        time.sleep(0.05)
