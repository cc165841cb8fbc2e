"""Text no column can hold is refused before any route runs: a NUL byte (PostgreSQL text cannot store it), a
lone surrogate (not encodable as UTF-8) in a path segment, a query value or any string of a JSON body, and a
JSON body nested deeper than ``MAX_DEPTH``; a chunked body past the size limit is a 413. Each is a 4xx problem naming the field, never a 500 from the
database driver or the JSON parser.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from connector.api.errors import field_problem
from connector.api.ocpi_common import envelope

MAX_DEPTH = 64


def bad_text(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None."""
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogate)"
    return None


def _walk(value: Any, path: str, depth: int) -> tuple[str, str] | None:
    """The first (field, reason) of a JSON document that cannot be stored, depth first."""
    if depth > MAX_DEPTH:  # named by the top-level member: the full path would be MAX_DEPTH segments long
        return re.split(r"[.\[]", path, maxsplit=1)[0] or "body", f"nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, str):
        reason = bad_text(value)
        return None if reason is None else (path or "body", reason)
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            reason = bad_text(str(key))
            if reason is not None:
                return (path or "body"), f"a key {reason}"
            found = _walk(item, where, depth + 1)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _walk(item, f"{path}[{i}]", depth + 1)
            if found is not None:
                return found
    return None


def _check_streamed_size() -> None:
    """A chunked body (no Content-Length) past ``MAX_CONTENT_LENGTH``: werkzeug silently cuts it at the limit
    (a truncated JSON then reads as a 400); it is a 413, like a declared one."""
    limit = request.max_content_length
    if request.content_length is not None or limit is None or request.method not in ("POST", "PUT", "PATCH"):
        return
    data = request.get_data(cache=True)
    if len(data) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


OWN_ERROR_FORMAT = ("/ocpi/",)  # OCPI answers in its own envelope: status 2001, not problem+json


def _first_bad() -> tuple[str, str] | None:
    """(field, reason) of the first path segment, query value or JSON string that cannot be stored."""
    for name, value in (request.view_args or {}).items():
        reason = bad_text(str(value))
        if reason is not None:
            return name, reason
    for name, value in request.args.items(multi=True):
        reason = bad_text(name) or bad_text(value)
        if reason is not None:
            return (name if bad_text(name) is None else "query"), reason
    if request.is_json and request.content_length != 0:
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            return "body", f"nested more than {MAX_DEPTH} levels deep"
        if body is None or _plainly_storable(request.get_data(cache=True)):
            return None
        return _walk(body, "", 0)
    return None


def _plainly_storable(raw: bytes) -> bool:
    """True when a parsed JSON body cannot hold what ``_walk`` looks for, read from its bytes. In ASCII bytes
    without a NUL byte (so UTF-8, not UTF-16/32, for the JSON decoder) a NUL or a lone surrogate can only be a
    ``\\u`` escape, and a body with at most ``MAX_DEPTH`` brackets cannot nest deeper. Most bodies then
    skip the walk."""
    return (raw.isascii() and b"\x00" not in raw and b"\\u" not in raw
            and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH)


def check_request() -> ResponseReturnValue | None:
    _check_streamed_size()
    found = _first_bad()
    if found is None:
        return None
    if request.path.startswith(OWN_ERROR_FORMAT):
        return envelope(None, 2001, f"{found[0]}: {found[1]}", 400)
    return field_problem(400, "Bad Request", found[0], found[1])


def register(app: Flask) -> None:
    app.before_request(check_request)
