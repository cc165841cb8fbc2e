"""OCPI 2.2.1 versions and credentials modules: ``GET /ocpi/versions``, ``GET /ocpi/2.2.1`` (version
details) and ``/ocpi/2.2.1/credentials`` (GET, POST with token A, PUT and DELETE with token C).

A partner we invited (``POST /v1/ocpi/partners``) registers here: it POSTs its Credentials with token A,
we read its versions with its token, keep its endpoints, and answer ours with a new token C. See docs/ocpi.md.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from connector.api.context import db
from connector.api.ocpi_common import (
    FAILURES,
    add_headers,
    caller,
    cipher,
    envelope,
    failure,
    partner_http,
    unauthorized,
    us,
)
from connector.billing import ocpi_roaming
from connector.billing.ocpi_roaming import Us

bp = Blueprint("ocpi_versions", __name__, url_prefix="/ocpi")
bp.after_app_request(add_headers)


def our_identity() -> Us:
    return Us(us(), str(current_app.config.get("OCPI_BUSINESS_NAME") or "EV Charge Billing"),
              url_for("ocpi_versions.get_versions", _external=True))


def _endpoints() -> list[dict[str, Any]]:
    def url(endpoint: str, **values: Any) -> str:
        return url_for(endpoint, _external=True, **values)

    credentials = url("ocpi_versions.get_credentials")
    tariffs = url("ocpi_modules.list_tariffs")
    return [
        {"identifier": "credentials", "role": "SENDER", "url": credentials},
        {"identifier": "credentials", "role": "RECEIVER", "url": credentials},
        {"identifier": "cdrs", "role": "RECEIVER", "url": url("ocpi_cdrs.post_cdr")},
        {"identifier": "tariffs", "role": "RECEIVER", "url": tariffs + "/"},
        {"identifier": "tariffs", "role": "SENDER", "url": tariffs},
        {"identifier": "sessions", "role": "RECEIVER", "url": tariffs[: -len("tariffs")] + "sessions/"},
    ]


@bp.get("/versions")
def get_versions() -> Response:
    if caller() is None:
        return unauthorized()
    return envelope([{"version": "2.2.1", "url": url_for("ocpi_versions.get_details", _external=True)}])


@bp.get("/2.2.1")
def get_details() -> Response:
    if caller() is None:
        return unauthorized()
    return envelope({"version": "2.2.1", "endpoints": _endpoints()})


@bp.get("/2.2.1/credentials")
def get_credentials() -> Response:
    who = caller()
    if who is None or who.partner is None or who.partner.status != "registered":
        return unauthorized()
    return envelope(our_identity().credentials(who.token))


def _register(update: bool) -> Response:
    who = caller()
    if who is None or who.partner is None:
        return unauthorized()
    try:
        answer = ocpi_roaming.accept_registration(db(), who.partner, request.get_json(silent=True), partner_http(),
                                                  cipher(), our_identity(), update=update)
    except FAILURES as exc:
        db().rollback()
        return failure(exc)
    db().commit()
    return envelope(answer)


@bp.post("/2.2.1/credentials")
def post_credentials() -> Response:
    return _register(update=False)


@bp.put("/2.2.1/credentials")
def put_credentials() -> Response:
    return _register(update=True)


@bp.delete("/2.2.1/credentials")
def delete_credentials() -> Response:
    who = caller()
    if who is None or who.partner is None:
        return unauthorized()
    if who.partner.status != "registered":
        return envelope(None, 2000, "credentials: not registered", 405)
    ocpi_roaming.unregister(db(), who.partner, None, cipher())
    db().commit()
    return envelope(None)
