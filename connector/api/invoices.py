"""Invoices: list, get (JSON, CSV or PDF), finalize, void, credit note, mark paid (``connector.billing.invoicing.lifecycle``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from connector.api import paging
from connector.api.context import db, json_body, query_choice, tenant, want_csv
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent
from connector.billing.invoicing import lifecycle
from connector.billing.invoicing.vat import InvoiceVat
from connector.receipts import Operator, render_invoice_pdf
from connector.storage.paging import UnknownCursor

bp = Blueprint("invoices", __name__, url_prefix="/v1/invoices")
INVOICE_STATUSES = ("draft", "finalized", "paid", "void")
INVOICE_KINDS = ("invoice", "credit_note")


def _optional_body() -> dict[str, Any]:
    return json_body() if request.get_data(cache=True) else {}


REASON_MAX = 2000  # free text kept on the invoice (a Text column); bounded so a note stays a note
REFERENCE_MAX = 200  # invoices.payment_reference


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    """An optional text member: a string of at most ``limit`` characters, or absent/null (else a 422 naming it)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError.field(name, "expected a string")
    if len(value) > limit:
        raise ApiError.field(name, f"at most {limit} characters")
    return value


def _line_ids(body: dict[str, Any]) -> list[str] | None:
    lines = body.get("lines")
    if lines is not None and (not isinstance(lines, list) or not all(isinstance(x, str) for x in lines)):
        raise ApiError.field("lines", "expected an array of line ids")
    return lines


def _amount(body: dict[str, Any]) -> Any:
    amount = body.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, str | int | float)):
        raise ApiError.field("amount", "expected a decimal amount such as \"1.50\"")
    return amount


@bp.get("")
def list_invoices() -> ResponseReturnValue:
    args = request.args
    page = paging.page_args()
    try:
        found = lifecycle.list_invoices(db(), tenant(), status=query_choice("status", INVOICE_STATUSES),
                                        kind=query_choice("kind", INVOICE_KINDS),
                                        customer_id=args.get("customer_id") or None,
                                        session_id=args.get("session_id") or None, limit=page.limit + 1,
                                        after=page.after, created_from=paging.date_arg("created_from"),
                                        created_to=paging.date_arg("created_to", end=True))
    except UnknownCursor as exc:
        raise paging.unknown_cursor() from exc
    return jsonify(paging.paged(found["items"], page))


def _pdf(invoice_id: str) -> Response:
    doc = lifecycle.get_invoice(db(), tenant(), invoice_id)
    credited = doc["credit_note_of"] and lifecycle.get_invoice(db(), tenant(), doc["credit_note_of"])["number"]
    body = render_invoice_pdf(doc, Operator.from_settings(), credited_number=credited or None)
    name = doc["number"] or invoice_id
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


def _want_pdf() -> bool:
    accept = request.accept_mimetypes
    return (request.args.get("format") == "pdf"
            or (accept.best_match(["application/json", "text/csv", "application/pdf"]) == "application/pdf"
                and accept["application/pdf"] > accept["application/json"]))


@bp.get("/<invoice_id>.pdf")
def get_invoice_pdf(invoice_id: str) -> ResponseReturnValue:
    """The invoice or credit note as the PDF finance sends (``connector.receipts.pdf``)."""
    return _pdf(invoice_id)


@bp.get("/<invoice_id>")
def get_invoice(invoice_id: str) -> ResponseReturnValue:
    if _want_pdf():
        return _pdf(invoice_id)
    if want_csv():
        text = lifecycle.invoice_csv(db(), tenant(), invoice_id)
        return Response(text, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{invoice_id}.csv"'})
    fmt = request.args.get("format")
    if fmt and fmt != "json":
        raise ApiError.field("format", "one of: json, csv, pdf", status=400, title="Bad Request")
    return jsonify(lifecycle.get_invoice(db(), tenant(), invoice_id))


@bp.post("/<invoice_id>/finalize")
@idempotent
def finalize_invoice(invoice_id: str) -> ResponseReturnValue:
    doc = lifecycle.finalize_invoice(db(), tenant(), invoice_id, InvoiceVat(
        current_app.config.get("INVOICE_VAT", InvoiceVat.PER_RATE)))
    db().commit()
    return jsonify(doc)


@bp.post("/<invoice_id>/void")
@idempotent
def void_invoice(invoice_id: str) -> ResponseReturnValue:
    reason = _text(_optional_body(), "reason", REASON_MAX)
    doc = lifecycle.void_invoice(db(), tenant(), invoice_id, reason=reason or None)
    db().commit()
    return jsonify(doc)


@bp.post("/<invoice_id>/credit-notes")
@idempotent
def create_credit_note(invoice_id: str) -> ResponseReturnValue:
    body = _optional_body()
    doc = lifecycle.create_credit_note(db(), tenant(), invoice_id, reason=_text(body, "reason", REASON_MAX),
                                       lines=_line_ids(body), amount=_amount(body))
    db().commit()
    return jsonify(doc), 201


@bp.post("/<invoice_id>/mark-paid")
@idempotent
def mark_invoice_paid(invoice_id: str) -> ResponseReturnValue:
    body = _optional_body()
    paid_at = body.get("paid_at")
    if paid_at is not None and not isinstance(paid_at, str):
        raise ApiError.field("paid_at", "expected an ISO 8601 date-time string")
    doc = lifecycle.mark_invoice_paid(db(), tenant(), invoice_id, paid_at=paid_at,
                                      reference=_text(body, "reference", REFERENCE_MAX), amount=_amount(body))
    db().commit()
    return jsonify(doc)
