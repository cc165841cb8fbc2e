"""Cursor paging and date filters of the list endpoints: ``limit`` and an opaque ``cursor`` in, ``items``
and ``next`` (the URL of the next page, absent on the last) out, which Power Automate's ``x-ms-pageable``
follows and the low-code pickers read."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import request

from connector.api.errors import ApiError


@dataclass(frozen=True)
class Page:
    limit: int
    after: str | None  # the id of the previous page's last item


def _bad(field: str, reason: str) -> ApiError:
    return ApiError.field(field, reason, status=400, title="Bad Request")


def page_args(default: int = 100, maximum: int = 1000) -> Page:
    try:
        limit = int(request.args.get("limit", str(default)))
    except ValueError as exc:
        raise _bad("limit", f"expected an integer 1..{maximum}") from exc
    if not 1 <= limit <= maximum:
        raise _bad("limit", f"expected an integer 1..{maximum}")
    cursor = request.args.get("cursor") or None
    if cursor is None:
        return Page(limit, None)
    try:
        after = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _bad("cursor", "not a cursor of this list (use the next link as given)") from exc
    if not after or not after.isprintable():
        raise _bad("cursor", "not a cursor of this list (use the next link as given)")
    return Page(limit, after)


def unknown_cursor() -> ApiError:
    return _bad("cursor", "points at an item no longer in this list; start again without a cursor")


def date_arg(name: str, end: bool = False) -> datetime | None:
    """An ISO date-time with offset, or a date: its start (UTC), or with ``end`` the next day's start, so a
    ``..._to`` date includes that whole day (``..._to`` bounds are exclusive)."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), tzinfo=UTC)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad(name, "expected a date (2026-01-13) or a date-time with offset") from exc
    if moment.tzinfo is None:
        raise _bad(name, "a date-time needs an offset (e.g. 2026-01-13T00:00:00Z)")
    return moment


def paged(items: Sequence[Mapping[str, Any]], page: Page, key: str = "id") -> dict[str, Any]:
    """The answer for ``items`` fetched with ``limit + 1``: the page and, when more follow, its next link."""
    out: dict[str, Any] = {"items": items[:page.limit]}
    if len(items) > page.limit:
        last = str(items[page.limit - 1][key])
        cursor = base64.urlsafe_b64encode(last.encode()).decode().rstrip("=")
        args = {k: v for k, v in request.args.items() if k != "cursor"}
        args["cursor"] = cursor
        out["next"] = request.base_url + "?" + urlencode(args)
    return out
