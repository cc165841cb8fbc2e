"""Tariffs of the caller's tenant: create, list, get, and publish a new version (``connector.billing.tariffs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, url_for
from flask.typing import ResponseReturnValue
from pydantic import ValidationError
from sqlalchemy import select

from connector.api import paging
from connector.api.context import db, json_body, tenant
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent
from connector.billing import tariffs
from connector.models import Tariff
from connector.rating import TariffSwitchPolicy
from connector.storage import repo
from connector.storage.paging import UnknownCursor, after_row
from connector.storage.tables.core import TariffRow

bp = Blueprint("tariffs", __name__, url_prefix="/v1/tariffs")


def _resource(row: TariffRow) -> dict[str, Any]:
    versions = repo.tariff_versions(db(), tenant(), row.tariff_id)
    current = next((v for v in versions if v.version_no == row.current_version), versions[-1])
    return {
        "id": row.tariff_id, "currency": row.currency, "current_version": row.current_version,
        "tariff": Tariff.model_validate_json(current.document).model_dump(mode="json", exclude_none=True),
        "versions": [{
            "version_no": v.version_no, "policy": v.policy,
            "effective_at": None if v.effective_at is None else repo.aware(v.effective_at).isoformat(),
            "end_at": None if v.end_at is None else repo.aware(v.end_at).isoformat(),
        } for v in versions],
    }


@bp.post("")
@idempotent
def create_tariff() -> ResponseReturnValue:
    try:
        tariff = Tariff.model_validate(json_body())
    except ValidationError as exc:
        raise ApiError.from_validation(exc, "tariff") from exc
    tariffs.create_tariff(db(), tenant(), tariff)
    db().commit()
    row = repo.get_tariff_row(db(), tenant(), tariff.id)
    assert row is not None
    response = jsonify(_resource(row))
    response.status_code = 201
    response.headers["Location"] = url_for("tariffs.get_tariff", tariff_id=tariff.id)
    return response


@bp.get("")
def list_tariffs() -> ResponseReturnValue:
    page = paging.page_args(maximum=500)
    try:
        query = after_row(db(), select(TariffRow).where(TariffRow.tenant_id == tenant()), [], TariffRow.tariff_id,
                          TariffRow.tenant_id, tenant(), page.after)
    except UnknownCursor as exc:
        raise paging.unknown_cursor() from exc
    return jsonify(paging.paged([_resource(r) for r in db().scalars(query.limit(page.limit + 1))], page))


@bp.get("/<tariff_id>")
def get_tariff(tariff_id: str) -> ResponseReturnValue:
    row = repo.get_tariff_row(db(), tenant(), tariff_id)
    if row is None:
        raise ApiError.not_found("tariff", tariff_id)
    return jsonify(_resource(row))


@bp.post("/<tariff_id>/versions")
@idempotent
def publish_tariff_version(tariff_id: str) -> ResponseReturnValue:
    body = json_body()
    row = repo.get_tariff_row(db(), tenant(), tariff_id)
    if row is None:
        raise ApiError.not_found("tariff", tariff_id)
    raw_at = body.get("effective_at")
    try:
        effective_at = datetime.fromisoformat(str(raw_at).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError.field("effective_at", "required: an ISO 8601 date-time with offset") from exc
    if effective_at.tzinfo is None:
        raise ApiError.field("effective_at", "must carry a time zone offset (e.g. 2026-02-01T00:00:00Z)")
    try:
        policy = TariffSwitchPolicy(body.get("policy") or TariffSwitchPolicy.PRICE_LOCK_AT_START)
    except ValueError as exc:
        raise ApiError.field("policy", "one of: price_lock_at_start, apply_from_effective_time") from exc
    raw_tariff = body.get("tariff")
    if not isinstance(raw_tariff, dict):
        raise ApiError.field("tariff", "required: the new version's OCPI Tariff object")
    try:
        tariff = Tariff.model_validate({**raw_tariff, "id": tariff_id})
    except ValidationError as exc:
        raise ApiError.from_validation(exc, "tariff") from exc
    published = tariffs.publish_tariff(db(), tenant(), tariff_id, tariff, effective_at, policy)
    db().commit()
    out = _resource(row)
    out["published_version"] = published.version_no
    out["rerating"] = published.rerating
    response = jsonify(out)
    response.status_code = 201
    response.headers["Location"] = url_for("tariffs.get_tariff", tariff_id=tariff_id)
    return response
