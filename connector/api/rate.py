"""``POST /v1/rate`` and ``POST /v1/rate/batch``: stateless pricing with the rating core."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from pydantic import ValidationError

from connector.api.context import db, document_size_limit, json_body, read_only, tenant
from connector.api.errors import ApiError
from connector.models import Cdr, Customer, Session, Tariff
from connector.money import RoundingPolicy, money_str
from connector.rating import (
    RatingError,
    RatingLimits,
    RatingOptions,
    StepSizePolicy,
    TariffSwitchPolicy,
    rate,
)
from connector.spreadsheets import batch_pool
from connector.spreadsheets.batch_json import TOTALS, answer, rate_items
from connector.spreadsheets.batch_pool import RatingJob
from connector.storage import repo

bp = Blueprint("rate", __name__, url_prefix="/v1/rate")


def _enum(kind: Any, value: Any, field: str) -> Any:
    try:
        return kind(value)
    except ValueError as exc:
        allowed = ", ".join(m.value for m in kind)
        raise ApiError.field(field, f"'{value}' is not one of: {allowed}") from exc


def parse_options(raw: Any, customer_class: Any = None) -> RatingOptions:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ApiError.field("options", "expected an object")
    unknown = set(raw) - {"rounding", "step_size", "time_zone", "as_of", "tariff_switch"}
    if unknown:
        raise ApiError.field(f"options.{sorted(unknown)[0]}", "unknown option")
    kwargs: dict[str, Any] = {}
    if raw.get("rounding") is not None:
        kwargs["rounding"] = _enum(RoundingPolicy, raw["rounding"], "options.rounding")
    if raw.get("step_size") is not None:
        kwargs["step_size"] = _enum(StepSizePolicy, raw["step_size"], "options.step_size")
    if raw.get("tariff_switch") is not None:
        kwargs["tariff_switch"] = _enum(TariffSwitchPolicy, raw["tariff_switch"], "options.tariff_switch")
    if raw.get("time_zone") is not None:
        if not isinstance(raw["time_zone"], str):
            raise ApiError.field("options.time_zone", "expected an IANA time zone name")
        kwargs["time_zone"] = raw["time_zone"]
    if raw.get("as_of") is not None:
        try:
            as_of = datetime.fromisoformat(str(raw["as_of"]).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ApiError.field("options.as_of", "expected an ISO 8601 date-time with offset") from exc
        if as_of.tzinfo is None:
            raise ApiError.field("options.as_of", "must carry a time zone offset (e.g. 2026-01-13T14:30:00Z)")
        kwargs["as_of"] = as_of
    if customer_class is not None:
        if not isinstance(customer_class, str) or not customer_class:
            raise ApiError.field("customer_class", "expected a non-empty string")
        kwargs["customer_class"] = customer_class
    return RatingOptions(**kwargs, limits=limits())


def limits() -> RatingLimits:
    """The configured rating bounds (EVBILL_MAX_SESSION_DAYS, EVBILL_MAX_RATING_PERIODS)."""
    defaults = RatingLimits()
    return RatingLimits(int(current_app.config.get("MAX_SESSION_DAYS", defaults.max_session_days)),
                        int(current_app.config.get("MAX_RATING_PERIODS", defaults.max_periods)))


def resolve_tariffs(body: dict[str, Any]) -> list[Tariff]:
    """Inline ``tariff`` (one object or a list of versions) or the tenant's stored ``tariff_id``."""
    if body.get("tariff") is not None and body.get("tariff_id") is not None:
        raise ApiError.field("tariff", "give either tariff or tariff_id, not both")
    if body.get("tariff") is not None:
        raw = body["tariff"]
        items = raw if isinstance(raw, list) else [raw]
        try:
            return [Tariff.model_validate(t) for t in items]
        except ValidationError as exc:
            raise ApiError.from_validation(exc, "tariff") from exc
    tariff_id = body.get("tariff_id")
    if tariff_id is None:
        return []  # a CDR may embed its tariffs; rate() names the field when none is found
    if not isinstance(tariff_id, str):
        raise ApiError.field("tariff_id", "expected a string")
    with read_only() as reader:
        tariffs = repo.load_tariffs(reader, tenant(), tariff_id)
    if tariffs is None:
        raise ApiError.not_found("tariff", tariff_id)
    return tariffs


def resolve_customer(body: dict[str, Any]) -> Customer | None:
    customer_id = body.get("customer_id")
    if customer_id is None:
        return None
    if not isinstance(customer_id, str):
        raise ApiError.field("customer_id", "expected a string")
    row = repo.get_customer(db(), tenant(), customer_id)
    if row is None:
        raise ApiError.not_found("customer", customer_id)
    return repo.customer_model(row)


def _subject(body: dict[str, Any]) -> Session | Cdr:
    if (body.get("session") is None) == (body.get("cdr") is None):
        raise ApiError.field("session", "give exactly one of session or cdr")
    key = "session" if body.get("session") is not None else "cdr"
    if not isinstance(body[key], dict):
        raise ApiError.field(key, "expected an object")
    try:
        return Session.model_validate(body[key]) if key == "session" else Cdr.model_validate(body[key])
    except ValidationError as exc:
        raise ApiError.from_validation(exc, key) from exc


def _rating_error(exc: RatingError, prefix: str) -> ApiError:
    field = exc.field if exc.field.startswith(("tariff", "options", "customer")) else f"{prefix}.{exc.field}"
    return ApiError(422, "Cannot rate", f"{field}: {exc.reason}", [{"field": field, "reason": exc.reason}])


@bp.post("")
def rate_session() -> ResponseReturnValue:
    document_size_limit()
    body = json_body()
    subject = _subject(body)
    options = parse_options(body.get("options"), body.get("customer_class"))
    tariffs = resolve_tariffs(body)
    customer = resolve_customer(body)
    try:
        result = rate(subject, tariffs, customer, options)
        return jsonify(result.to_dict())
    except RatingError as exc:
        raise _rating_error(exc, "session" if isinstance(subject, Session) else "cdr") from exc


def batch_pool_size() -> tuple[int, int]:
    """(processes, smallest batch sent to them): EVBILL_RATING_PROCESSES, EVBILL_RATING_POOL_MIN_SESSIONS."""
    return (int(current_app.config.get("RATING_PROCESSES") or 1),
            int(current_app.config.get("RATING_POOL_MIN_SESSIONS") or 1))


@bp.post("/batch")
def rate_batch() -> ResponseReturnValue:
    body = json_body()
    sessions = body.get("sessions")
    if not isinstance(sessions, list):
        raise ApiError.field("sessions", "expected an array of sessions")
    limit = int(current_app.config.get("BATCH_MAX_SESSIONS", 10000))
    if len(sessions) > limit:
        raise ApiError.field("sessions", f"at most {limit} sessions per batch (got {len(sessions)})",
                             status=413, title="Payload Too Large")
    options = parse_options(body.get("options"), body.get("customer_class"))
    tariffs = resolve_tariffs(body)
    if not tariffs:
        raise ApiError.field("tariff_id", "give tariff_id or tariff")
    customer = resolve_customer(body)
    processes, min_sessions = batch_pool_size()
    rated = batch_pool.rate_batch(rate_items, RatingJob(tariffs, customer, options), list(enumerate(sessions)),
                                  processes=processes, min_sessions=min_sessions)
    totals = dict.fromkeys(TOTALS, Decimal(0))
    currencies: set[str] = set()
    for _item, amounts, item_currency in rated:
        if amounts is not None and item_currency is not None:
            for name, amount in zip(TOTALS, amounts, strict=True):
                totals[name] += amount
            currencies.add(item_currency)
    currency = currencies.pop() if len(currencies) == 1 else (tariffs[0].currency if not currencies else None)
    out_totals: dict[str, Any] = {"currency": currency}
    out_totals.update({k: money_str(v, currency) if currency else format(v, "f") for k, v in totals.items()})
    return current_app.response_class(answer(len(sessions), [item for item, _, _ in rated], out_totals),
                                      mimetype="application/json")
