"""The tenant's stored events (``GET /v1/events``): parse the query, list through ``connector.events.history``."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from connector.api import paging
from connector.api.context import db, tenant
from connector.events import history
from connector.storage.paging import UnknownCursor

bp = Blueprint("events", __name__, url_prefix="/v1/events")


@bp.get("")
def list_events() -> ResponseReturnValue:
    page = paging.page_args()
    try:
        items = history.list_events(db(), tenant(), type=request.args.get("type") or None, limit=page.limit + 1,
                                    after=page.after, created_from=paging.date_arg("created_from"),
                                    created_to=paging.date_arg("created_to", end=True))
    except UnknownCursor as exc:
        raise paging.unknown_cursor() from exc
    return jsonify(paging.paged(items, page))
