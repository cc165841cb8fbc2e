"""Customers of the caller's tenant: create, list, get, update (``connector.billing.customers``)."""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from connector.api import paging
from connector.api.context import db, json_body, tenant
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent
from connector.billing import customers
from connector.billing.customers import FIELDS
from connector.models import Customer
from connector.storage import repo
from connector.storage.paging import UnknownCursor, after_row
from connector.storage.tables.core import CustomerRow

bp = Blueprint("customers", __name__, url_prefix="/v1/customers")


def _validate(data: dict) -> Customer:
    unknown = set(data) - {"id", *FIELDS}
    if unknown:
        raise ApiError.field(sorted(unknown)[0], "unknown field")
    return Customer.model_validate(data)  # a ValidationError is a 422 (errors.py)


@bp.post("")
@idempotent
def create_customer() -> ResponseReturnValue:
    customer = _validate(json_body())
    stored = customers.create_customer(db(), tenant(), customer)
    db().commit()
    response = jsonify(stored)
    response.status_code = 201
    response.headers["Location"] = url_for("customers.get_customer", customer_id=customer.id)
    return response


@bp.get("")
def list_customers() -> ResponseReturnValue:
    page = paging.page_args(maximum=500)
    try:
        query = after_row(db(), select(CustomerRow).where(CustomerRow.tenant_id == tenant()), [],
                          CustomerRow.customer_id, CustomerRow.tenant_id, tenant(), page.after)
    except UnknownCursor as exc:
        raise paging.unknown_cursor() from exc
    return jsonify(paging.paged([r.to_dict() for r in db().scalars(query.limit(page.limit + 1))], page))


@bp.get("/<customer_id>")
def get_customer(customer_id: str) -> ResponseReturnValue:
    row = repo.get_customer(db(), tenant(), customer_id)
    if row is None:
        raise ApiError.not_found("customer", customer_id)
    return jsonify(row.to_dict())


@bp.patch("/<customer_id>")
def update_customer(customer_id: str) -> ResponseReturnValue:
    row = repo.get_customer(db(), tenant(), customer_id)
    if row is None:
        raise ApiError.not_found("customer", customer_id)
    changes = json_body()
    if "id" in changes and changes["id"] != customer_id:
        raise ApiError.field("id", "cannot be changed")
    customer = _validate({**row.to_dict(), **changes, "id": customer_id})
    updated = customers.update_customer(db(), tenant(), customer)
    db().commit()
    return jsonify(updated)
