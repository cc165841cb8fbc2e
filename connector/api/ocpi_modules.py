"""OCPI 2.2.1 tariffs module, both interfaces, and the sessions receiver: ``PUT /ocpi/2.2.1/tariffs/{country_code}/{party_id}/{id}``
receives a partner's tariff and stores it as our tariff ``<country><party>-<id>`` (so the partner's CDRs are
rated with it), ``GET /ocpi/2.2.1/tariffs`` lists ours, paginated (``offset``/``limit``; ``Link``,
``X-Total-Count``, ``X-Limit`` as 2.2.1 §4.1.5). ``PUT /ocpi/2.2.1/sessions/{country_code}/{party_id}/{id}``
keeps a partner's running session and answers its interim cost from the one rating call billing uses.
See docs/ocpi.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for
from pydantic import ValidationError
from sqlalchemy import func, select

from connector.api.context import app_sink, db
from connector.api.ocpi_common import FAILURES, caller, envelope, failure, tariff_id_of, unauthorized, us
from connector.billing import tariffs as tariff_cases
from connector.billing.pricing.inputs import rate_row
from connector.ingest.ocpi import session_to_event
from connector.models import Tariff
from connector.models.limits import TARIFF_ID_MAX
from connector.models.session_event import IngestError
from connector.rating import TariffSwitchPolicy
from connector.storage import ocpi_partners, repo
from connector.storage.tables.core import TariffRow
from connector.validation import ProblemError, field_errors

bp = Blueprint("ocpi_modules", __name__, url_prefix="/ocpi/2.2.1")
MAX_LIMIT = 100


@bp.put("/tariffs/<country_code>/<party_id>/<tariff_id>")
def put_tariff(country_code: str, party_id: str, tariff_id: str) -> Response:
    who = caller()
    if who is None:
        return unauthorized()
    raw = request.get_json(silent=True)
    if not isinstance(raw, dict):
        return envelope(None, 2001, "body: expected a Tariff JSON object", 400)
    try:
        tariff = Tariff.model_validate(raw)
    except ValidationError as exc:
        first = field_errors(exc)[0]
        return envelope(None, 2001, f"{first['field']}: {first['reason']}", 400)
    if (tariff.country_code or "", tariff.party_id or "", tariff.id).__repr__().upper() != (
            country_code, party_id, tariff_id).__repr__().upper():  # CiString: case-insensitive
        return envelope(None, 2001, "id: country_code/party_id/id of the body must match the URL", 400)
    ours = ocpi_partners.partner_tariff_id(country_code, party_id, tariff_id)
    if len(ours) > TARIFF_ID_MAX:
        return envelope(None, 2001, f"id: at most {TARIFF_ID_MAX - len(country_code + party_id) - 1} characters", 400)
    stored = tariff.model_copy(update={"id": ours})
    try:
        if repo.get_tariff_row(db(), who.tenant_id, ours) is None:
            tariff_cases.create_tariff(db(), who.tenant_id, stored)
        else:
            tariff_cases.publish_tariff(db(), who.tenant_id, ours, stored, datetime.now(UTC),
                                        TariffSwitchPolicy.PRICE_LOCK_AT_START)
    except FAILURES as exc:
        db().rollback()
        return failure(exc)
    db().commit()
    return envelope(None)


@bp.get("/tariffs")
def list_tariffs() -> Response:
    who = caller()
    if who is None:
        return unauthorized()
    try:
        offset = max(0, int(request.args.get("offset", "0")))
        limit = min(MAX_LIMIT, max(1, int(request.args.get("limit", str(MAX_LIMIT)))))
    except ValueError:
        return envelope(None, 2001, "offset/limit: whole numbers expected", 400)
    where = TariffRow.tenant_id == who.tenant_id
    total = int(db().scalar(select(func.count()).select_from(TariffRow).where(where)) or 0)
    rows = db().scalars(select(TariffRow).where(where).order_by(TariffRow.tariff_id).offset(offset).limit(limit))
    party = us()
    items = []
    for row in rows:
        versions = repo.load_tariffs(db(), who.tenant_id, row.tariff_id) or []
        if versions:
            document = versions[0].model_dump(mode="json", exclude_none=True)
            document.update(country_code=party.country_code, party_id=party.party_id)
            items.append(document)
    response = envelope(items)
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Limit"] = str(limit)
    if offset + limit < total:
        query = urlencode({"offset": offset + limit, "limit": limit})
        response.headers["Link"] = f'<{url_for("ocpi_modules.list_tariffs", _external=True)}?{query}>; rel="next"'
    return response



@bp.put("/sessions/<country_code>/<party_id>/<session_id>")
def put_session(country_code: str, party_id: str, session_id: str) -> Response:
    who = caller()
    if who is None:
        return unauthorized()
    raw = request.get_json(silent=True)
    if not isinstance(raw, dict):
        return envelope(None, 2001, "body: expected a Session JSON object", 400)
    ids = tuple(str(raw.get(k, "")).upper() for k in ("country_code", "party_id", "id"))
    if ids != (country_code.upper(), party_id.upper(), session_id.upper()):
        return envelope(None, 2001, "id: country_code/party_id/id of the body must match the URL", 400)
    try:
        event = session_to_event(raw, tariff_id_of(who), current_app.config.get("OCPI_SESSION_DEFAULTS"))
        app_sink().ingest(who.tenant_id, event)
    except IngestError as exc:
        return envelope(None, 2001, str(exc), 400)
    row = repo.get_session_row(db(), who.tenant_id, event.session_id)
    interim: dict[str, Any] | None = None
    if row is not None and row.status == "active":
        try:  # the same rating call as the final bill, as of the partner's last update
            interim = rate_row(db(), who.tenant_id, row, event.timestamp).to_dict()["total_cost"]  # type: ignore[assignment]
        except (ProblemError, ValueError) as exc:
            return envelope({"session_id": event.session_id, "interim_cost": None}, 1000,
                            f"Stored; no interim cost: {exc}")
    return envelope({"session_id": event.session_id, "interim_cost": interim})
