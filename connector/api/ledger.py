"""Ledger and audit log: journal entries (read-only), the tenant's account mapping, who changed what.

Also sets the audit actor for every request (``connector.billing.ledger.audit.ACTOR``): ``api_key:<sha256 prefix>``
for an API key (never the key itself) or ``bearer:<sub>`` for a verified token.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from connector.api.context import db, json_body, query_limit, tenant
from connector.api.errors import ApiError
from connector.billing.ledger import accounts, audit
from connector.billing.ledger import journal as ledger

bp = Blueprint("ledger", __name__)


def request_actor() -> str:
    """Who is calling (set after authentication); ``anonymous`` on public routes."""
    how = g.get("auth")
    if how == "api_key":
        key = request.headers.get("X-API-Key", "")
        return "api_key:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    if how == "bearer":
        import jwt

        token = request.headers.get("Authorization", "")[7:].strip()
        try:  # already verified by connector.api.auth; only the subject is read here
            sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
        except jwt.PyJWTError:
            sub = None
        return f"bearer:{sub or 'unknown'}"
    return "anonymous"


@bp.before_app_request
def _set_actor() -> None:
    audit.ACTOR.set(request_actor())


def _limit() -> int:
    return query_limit()


def _instant(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError.field(name, "an ISO 8601 date-time with offset", status=400, title="Bad Request") from exc
    if value.tzinfo is None:
        raise ApiError.field(name, "must carry a time zone offset", status=400, title="Bad Request")
    return value


@bp.get("/v1/ledger/entries")
def list_entries() -> ResponseReturnValue:
    filters: dict[str, Any] = {k: request.args[k] for k in ("reference", "source", "account", "currency")
                               if request.args.get(k)}
    items = ledger.list_entries(db(), tenant(), since=_instant("since"), until=_instant("until"), limit=_limit(),
                                **filters)
    return jsonify({"items": items})


@bp.get("/v1/ledger/accounts")
def get_accounts() -> ResponseReturnValue:
    return jsonify(accounts.get_mapping(db(), tenant()))


@bp.put("/v1/ledger/accounts")
def put_accounts() -> ResponseReturnValue:
    mapping = accounts.put_mapping(db(), tenant(), json_body())
    db().commit()
    return jsonify(mapping)


@bp.get("/v1/audit-log")
def list_audit() -> ResponseReturnValue:
    filters = {k: request.args[k] for k in ("entity", "entity_id", "action") if request.args.get(k)}
    return jsonify({"items": audit.list_audit(db(), tenant(), since=_instant("since"), limit=_limit(), **filters)})
