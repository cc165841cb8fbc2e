"""Customers of the caller's tenant: create, list, get, update."""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for
from flask.typing import ResponseReturnValue
from pydantic import ValidationError
from sqlalchemy import select

from connector.api.context import db, json_body, tenant
from connector.api.errors import ApiError
from connector.api.idempotency import idempotent
from connector.billing.ledger import audit
from connector.models import Customer
from connector.storage import repo
from connector.storage.tables.core import CustomerRow

bp = Blueprint("customers", __name__, url_prefix="/v1/customers")
FIELDS = ("customer_class", "tax_region", "tax_exempt", "name", "email", "locale", "invoice_per_session")


def _validate(data: dict) -> Customer:
    unknown = set(data) - {"id", *FIELDS}
    if unknown:
        raise ApiError.field(sorted(unknown)[0], "unknown field")
    try:
        return Customer.model_validate(data)
    except ValidationError as exc:
        raise ApiError.from_validation(exc) from exc


@bp.post("")
@idempotent
def create_customer() -> ResponseReturnValue:
    customer = _validate(json_body())
    if repo.get_customer(db(), tenant(), customer.id) is not None:
        raise ApiError.field("id", f"customer '{customer.id}' exists", status=409, title="Conflict")
    repo.ensure_tenant(db(), tenant())
    row = CustomerRow(tenant_id=tenant(), customer_id=customer.id,
                      **{f: getattr(customer, f) for f in FIELDS})
    db().add(row)
    db().flush()
    audit.record(db(), tenant(), "customer", customer.id, "create", None, row.to_dict())
    db().commit()
    response = jsonify(row.to_dict())
    response.status_code = 201
    response.headers["Location"] = url_for("customers.get_customer", customer_id=customer.id)
    return response


@bp.get("")
def list_customers() -> ResponseReturnValue:
    rows = db().scalars(select(CustomerRow).where(CustomerRow.tenant_id == tenant())
                        .order_by(CustomerRow.customer_id))
    return jsonify({"items": [r.to_dict() for r in rows]})


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
    before = row.to_dict()
    for field in FIELDS:
        setattr(row, field, getattr(customer, field))
    audit.record(db(), tenant(), "customer", customer_id, "update", before, row.to_dict())
    db().commit()
    return jsonify(row.to_dict())
