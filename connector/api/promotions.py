"""Promo codes of the caller's tenant: create, list, and apply one to a session before it is billed.

Why redemption is its own call: the usage limits (total, per customer) are counted when a code is
applied, so a driver learns at once whether it is accepted; the discount itself is priced by the core.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from pydantic import ValidationError

from connector.api import billing_link
from connector.api.context import json_body
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent

bp = Blueprint("promotions", __name__, url_prefix="/v1/promotions")

ADJUSTMENTS = "connector.billing.pricing.adjustments"


@bp.post("")
@idempotent
def create_promotion() -> ResponseReturnValue:
    model = billing_link.function(ADJUSTMENTS, "PromotionIn")
    try:
        promo = model.model_validate(json_body())
    except ValidationError as exc:
        raise ApiError.from_validation(exc) from exc
    return jsonify(billing_link.call(ADJUSTMENTS, "create_promotion", promo)), 201


@bp.get("")
def list_promotions() -> ResponseReturnValue:
    return jsonify({"items": billing_link.call(ADJUSTMENTS, "list_promotions")})


@bp.post("/<code>/redemptions")
@idempotent
def redeem_promotion(code: str) -> ResponseReturnValue:
    session_id = json_body().get("session_id")
    if not isinstance(session_id, str) or not session_id:
        raise ApiError.field("session_id", "required: the session the code applies to")
    result = billing_link.call(ADJUSTMENTS, "redeem", code, session_id)
    return jsonify(result), 201 if result["status"] == "redeemed" else 200
