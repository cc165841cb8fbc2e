"""Promo codes of the caller's tenant: create, list, and apply one to a session before it is billed.

Why redemption is its own call: the usage limits (total, per customer) are counted when a code is
applied, so a driver learns at once whether it is accepted; the discount itself is priced by the core.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from connector.api.context import db, json_body, tenant
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent
from connector.billing.pricing import adjustments

bp = Blueprint("promotions", __name__, url_prefix="/v1/promotions")


@bp.post("")
@idempotent
def create_promotion() -> ResponseReturnValue:
    promo = adjustments.PromotionIn.model_validate(json_body())  # a ValidationError is a 422 (errors.py)
    created = adjustments.create_promotion(db(), tenant(), promo)
    db().commit()
    return jsonify(created), 201


@bp.get("")
def list_promotions() -> ResponseReturnValue:
    return jsonify({"items": adjustments.list_promotions(db(), tenant())})


@bp.post("/<code>/redemptions")
@idempotent
def redeem_promotion(code: str) -> ResponseReturnValue:
    session_id = json_body().get("session_id")
    if not isinstance(session_id, str) or not session_id:
        raise ApiError.field("session_id", "required: the session the code applies to")
    result = adjustments.redeem(db(), tenant(), code, session_id)
    db().commit()
    return jsonify(result), 201 if result["status"] == "redeemed" else 200
