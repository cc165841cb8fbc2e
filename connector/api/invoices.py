"""Invoices: list, get (JSON or CSV), finalize, void, credit note, mark paid — all in the billing service."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from connector.api.billing_link import SERVICE, call
from connector.api.context import json_body, want_csv
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent

bp = Blueprint("invoices", __name__, url_prefix="/v1/invoices")


def _optional_body() -> dict[str, Any]:
    return json_body() if request.get_data(cache=True) else {}


@bp.get("")
def list_invoices() -> ResponseReturnValue:
    filters = {k: request.args[k] for k in ("status", "customer_id", "session_id") if request.args.get(k)}
    result = call(SERVICE, "list_invoices", **filters)
    return jsonify(result if isinstance(result, dict) else {"items": result})


@bp.get("/<invoice_id>")
def get_invoice(invoice_id: str) -> ResponseReturnValue:
    if want_csv():
        text = call(SERVICE, "invoice_csv", invoice_id)
        return Response(text, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{invoice_id}.csv"'})
    fmt = request.args.get("format")
    if fmt and fmt != "json":
        raise ApiError.field("format", "one of: json, csv", status=400, title="Bad Request")
    return jsonify(call(SERVICE, "get_invoice", invoice_id))


@bp.post("/<invoice_id>/finalize")
@idempotent
def finalize_invoice(invoice_id: str) -> ResponseReturnValue:
    return jsonify(call(SERVICE, "finalize_invoice", invoice_id))


@bp.post("/<invoice_id>/void")
@idempotent
def void_invoice(invoice_id: str) -> ResponseReturnValue:
    reason = _optional_body().get("reason")
    return jsonify(call(SERVICE, "void_invoice", invoice_id, **({"reason": reason} if reason else {})))


@bp.post("/<invoice_id>/credit-notes")
@idempotent
def create_credit_note(invoice_id: str) -> ResponseReturnValue:
    body = _optional_body()
    kwargs = {k: body[k] for k in ("reason", "lines", "amount") if body.get(k) is not None}
    return jsonify(call(SERVICE, "create_credit_note", invoice_id, **kwargs)), 201


@bp.post("/<invoice_id>/mark-paid")
@idempotent
def mark_invoice_paid(invoice_id: str) -> ResponseReturnValue:
    body = _optional_body()
    kwargs = {k: body[k] for k in ("paid_at", "reference", "amount") if body.get(k) is not None}
    return jsonify(call(SERVICE, "mark_invoice_paid", invoice_id, **kwargs))
