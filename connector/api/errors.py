"""RFC 9457 problem details for every 4xx/5xx; a catch-all so no stack trace ever reaches a client.

A refusal carries its status: ``ApiError`` from a route, ``FieldError``/``NotFound``/``Conflict`` from billing,
events and platforms (``connector.validation``). One handler renders them all; any other exception is a bug
and answers 500.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from connector.validation import ProblemError, field_errors

LOG = logging.getLogger("connector.api")
PROBLEM = "application/problem+json"


class ApiError(Exception):
    """Raise from a route: a problem response with its own status, title, errors and extra members."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 errors: list[dict[str, str]] | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.errors, self.extra = status, title, detail, errors, extra
        self.headers: dict[str, str] = {}  # e.g. Retry-After on a 409/503

    @classmethod
    def field(cls, field: str, reason: str, status: int = 422, title: str = "Invalid request") -> ApiError:
        return cls(status, title, f"{field}: {reason}", [{"field": field, "reason": reason}])

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: str = "") -> ApiError:
        errors = [_refine(e) if e["field"] in (prefix, "body") else e for e in field_errors(exc, prefix)]
        head = errors[0] if errors else {"field": prefix or "body", "reason": "invalid"}
        return cls(422, "Invalid request", f"{head['field']}: {head['reason']}", errors)

    @classmethod
    def not_found(cls, what: str, ident: str) -> ApiError:
        return cls(404, "Not found", f"{what} '{ident}' does not exist")


_NAMED = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$", re.S)


def _refine(error: dict[str, str]) -> dict[str, str]:
    """A model-level error "end: must not be ..." on ``session`` becomes field ``session.end``."""
    match = _NAMED.match(error["reason"])
    if match is None:
        return error
    field = f"{error['field']}.{match.group(1)}" if error["field"] not in ("", "body") else match.group(1)
    return {"field": field, "reason": match.group(2)}


def problem(status: int, title: str, detail: str | None = None, errors: list[dict[str, str]] | None = None,
            **extra: Any) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM
    return response


def field_problem(status: int, title: str, field: str | None = None, reason: str | None = None,
                  **extra: Any) -> Response:
    """``problem`` naming one field and its reason (the ingest routes' shape)."""
    if field is None:
        return problem(status, title, **extra)
    return problem(status, title, f"{field}: {reason}", [{"field": field, "reason": str(reason)}], **extra)


def problem_of(exc: ApiError | ProblemError) -> Response:
    """The answer to a refusal: its status and title; the field and reason when it names one input."""
    if isinstance(exc, ApiError):
        response = problem(exc.status, exc.title, exc.detail, exc.errors, **exc.extra)
        response.headers.update(exc.headers)
        return response
    errors = None if exc.field is None else [{"field": exc.field, "reason": exc.reason}]
    return problem(exc.status, exc.title, str(exc), errors)


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, problem_of)
    app.register_error_handler(ProblemError, problem_of)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> Response:
        err = ApiError.from_validation(exc)
        return problem(err.status, err.title, err.detail, err.errors)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        detail = exc.description if status < 500 else None
        if status == 413:
            detail = f"the request body exceeds the limit of {app.config.get('MAX_CONTENT_LENGTH')} bytes"
        response = problem(status, exc.name, detail)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _busy(exc: Exception) -> Response:
        """A lock held past the busy timeout, a full pool, a database that went away: the request did nothing
        (its transaction rolled back), so the client may retry it."""
        LOG.warning("database busy or unreachable: %s", exc)
        response = problem(503, "Service Unavailable", "the database is busy or unreachable; retry later")
        response.headers["Retry-After"] = str(app.config.get("RETRY_AFTER_SECONDS", 1))
        return response

    @app.errorhandler(Exception)
    def _any(exc: Exception) -> Response:
        LOG.exception("unhandled error")
        return problem(500, "Internal Server Error", "an unexpected error occurred; it has been logged")
