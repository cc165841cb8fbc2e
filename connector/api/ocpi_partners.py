"""Admin side of OCPI roaming (API key auth): ``POST /v1/ocpi/partners`` either invites a partner (no
body: a token A and our versions URL, shown once) or registers us with a partner (``versions_url`` and the
``token`` A it gave us); ``GET`` lists partners (never tokens); ``DELETE /v1/ocpi/partners/{id}``
unregisters (and DELETEs our credentials at the partner); ``POST /v1/ocpi/partners/{id}/tariffs`` PUTs our
current tariffs to it again (after a tariff change). See docs/ocpi.md.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from connector.api.context import db, tenant
from connector.api.ocpi_common import cipher, partner_http
from connector.api.ocpi_versions import our_identity
from connector.billing import ocpi_roaming
from connector.platforms.errors import PermanentError, RetryableError
from connector.storage import ocpi_partners, repo
from connector.validation import Conflict, FieldError, NotFound

bp = Blueprint("ocpi_partners", __name__, url_prefix="/v1/ocpi/partners")


def _partner_failure(exc: Exception) -> FieldError:
    return FieldError("versions_url", f"the partner's OCPI API could not be used: {exc}")


@bp.post("")
def add_partner() -> Response:
    body: Any = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        raise FieldError("body", "expected a JSON object")
    if not body.get("versions_url"):
        repo.ensure_tenant(db(), tenant())
        row, token = ocpi_partners.invite(db(), tenant())
        db().commit()
        response = jsonify({**ocpi_partners.public(row), "token": token,
                            "our_versions_url": url_for("ocpi_versions.get_versions", _external=True)})
        response.status_code = 201
        return response
    versions_url: Any = body.get("versions_url")
    token_a: Any = body.get("token")
    if not isinstance(versions_url, str) or not isinstance(token_a, str):
        raise FieldError("token", "required with versions_url: the token A the partner gave you")
    try:
        row = ocpi_roaming.register_with(db(), tenant(), versions_url, token_a, partner_http(), cipher(),
                                         our_identity())
    except (PermanentError, RetryableError) as exc:
        raise _partner_failure(exc) from exc
    try:
        published = ocpi_roaming.publish_tariffs(db(), row, partner_http(), cipher(), our_identity())
    except (PermanentError, RetryableError):
        published = 0
    response = jsonify({**ocpi_partners.public(row), "tariffs_published": published})
    response.status_code = 201
    return response


@bp.get("")
def list_partners() -> Response:
    return jsonify({"items": [ocpi_partners.public(r) for r in ocpi_partners.listed(db(), tenant())]})


@bp.delete("/<partner_id>")
def delete_partner(partner_id: str) -> Response:
    row = ocpi_partners.get(db(), tenant(), partner_id)
    if row is None:
        raise NotFound(f"ocpi partner '{partner_id}' not found")
    try:
        ocpi_roaming.unregister(db(), row, partner_http(), cipher())
    except (PermanentError, RetryableError) as exc:
        raise _partner_failure(exc) from exc
    db().commit()
    return jsonify(ocpi_partners.public(row))


@bp.post("/<partner_id>/tariffs")
def publish_partner_tariffs(partner_id: str) -> Response:
    row = ocpi_partners.get(db(), tenant(), partner_id)
    if row is None:
        raise NotFound(f"ocpi partner '{partner_id}' not found")
    if row.status != "registered":
        raise Conflict(f"ocpi partner '{partner_id}' is {row.status}, not registered")
    try:
        published = ocpi_roaming.publish_tariffs(db(), row, partner_http(), cipher(), our_identity())
    except (PermanentError, RetryableError) as exc:
        raise _partner_failure(exc) from exc
    return jsonify({**ocpi_partners.public(row), "tariffs_published": published})
