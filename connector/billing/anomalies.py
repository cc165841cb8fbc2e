"""Billing anomaly detection: rules with per-tenant thresholds, each anomaly emitted once as ``billing.anomaly``.

Why here and not in an adapter: Jira, Slack and Zoho only route the event; what counts as an anomaly is a
billing decision and must be the same whichever face saw the session. An anomaly's id is a hash of
(tenant, rule, what it is about), so re-detecting it (billing retried, reconciliation rerun) finds the stored
row and emits nothing: the same anomaly never opens two tickets.

Rules: ``negative_energy``, ``implausible_energy`` (kWh > max power x duration), ``duplicate_session``
(same station, start and energy under another session id), ``long_session``, ``rating_failure``,
``reconciliation_mismatch`` and ``unbilled_session`` (the last two from ``connector.billing.reconciliation.run``);
``payment_failed``, ``payment_returned``, ``unexpected_payment`` (money for an invoice already settled or void) from
``connector.billing.payments.record`` and ``paid_amount_mismatch`` (paid at a vendor for another amount than
billed) from the reconciliation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session as DbSession

from connector.models.common import Dec
from connector.models.documents import RatedSessionJson
from connector.rating import RatedSession
from connector.storage import inserts
from connector.storage.tables.reconciliation import AnomalyRow, AnomalyRulesRow
from connector.validation import FieldError, field_errors

RuleName = Literal["negative_energy", "implausible_energy", "duplicate_session", "long_session",
                   "rating_failure", "reconciliation_mismatch", "unbilled_session", "payment_failed",
                   "payment_returned", "unexpected_payment", "paid_amount_mismatch"]

SEVERITY: dict[str, str] = {
    "negative_energy": "high", "implausible_energy": "high", "duplicate_session": "medium",
    "long_session": "low", "rating_failure": "high", "reconciliation_mismatch": "high",
    "unbilled_session": "medium", "payment_failed": "medium", "payment_returned": "high",
    "unexpected_payment": "high", "paid_amount_mismatch": "high",
}


class AnomalyInputError(FieldError):
    """Bad thresholds or filters; ``field``/``reason`` become a 422 naming the field."""


class Thresholds(BaseModel):
    """A tenant's thresholds. Defaults: 400 kW (fastest DC chargers in service), 24 h, exact match."""

    model_config = ConfigDict(extra="forbid")

    max_power_kw: Dec = Field(default=Decimal("400"), gt=0, le=100000)
    max_session_hours: Dec = Field(default=Decimal("24"), gt=0, le=8760)
    mismatch_tolerance: Dec = Field(default=Decimal("0"), ge=0, le=1000000,
                                    description="|expected - billed| above this is a reconciliation mismatch")
    disabled_rules: list[RuleName] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"max_power_kw": str(self.max_power_kw), "max_session_hours": str(self.max_session_hours),
                "mismatch_tolerance": str(self.mismatch_tolerance), "disabled_rules": list(self.disabled_rules)}


class Anomaly(BaseModel):
    """The ``Anomaly`` JSON of docs/architecture.md."""

    id: str
    rule: RuleName
    severity: str
    session_id: str | None = None
    station_id: str | None = None
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


def anomaly_id(tenant_id: str, rule: str, *key: str) -> str:
    """Deterministic: the same (tenant, rule, key) always gives the same id."""
    text = "|".join((tenant_id, rule, *key))
    return "anm_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def make(tenant_id: str, rule: str, session_id: str | None, station_id: str | None, message: str,
         details: dict[str, Any], key: tuple[str, ...] | None = None) -> Anomaly:
    """An anomaly whose id is keyed on ``key`` (default: the session id)."""
    parts = key if key is not None else (session_id or "",)
    return Anomaly(id=anomaly_id(tenant_id, rule, *parts), rule=rule, severity=SEVERITY[rule],
                   session_id=session_id, station_id=station_id, message=message, details=details)


# ------------------------------------------------------------------------------------------- thresholds


def thresholds(db: DbSession, tenant_id: str) -> Thresholds:
    row = db.get(AnomalyRulesRow, tenant_id)
    return Thresholds() if row is None else Thresholds.model_validate(row.thresholds)


def get_rules(db: DbSession, tenant_id: str) -> dict[str, Any]:
    """The tenant's thresholds (defaults when never set)."""
    return thresholds(db, tenant_id).to_dict()


def put_rules(db: DbSession, tenant_id: str, body: Any) -> dict[str, Any]:
    """Replace the tenant's thresholds; fields left out take their defaults."""
    if not isinstance(body, dict):
        raise AnomalyInputError("body", "expected a JSON object")
    try:
        value = Thresholds.model_validate(body)
    except ValidationError as exc:
        first = field_errors(exc)[0]
        raise AnomalyInputError(first["field"], first["reason"]) from exc
    row = db.get(AnomalyRulesRow, tenant_id)
    if row is None:
        db.add(AnomalyRulesRow(tenant_id=tenant_id, thresholds=value.to_dict()))
    else:
        row.thresholds = value.to_dict()
    db.flush()
    return value.to_dict()


# ----------------------------------------------------------------------------------------- recording


def record(db: DbSession, tenant_id: str, anomaly: Anomaly) -> dict[str, Any] | None:
    """Store and emit ``billing.anomaly`` unless this id was seen already (then None). Never commits."""
    from connector.events.outbox import emit

    data = anomaly.model_dump(mode="json")
    db.flush()  # what the unit of work had pending goes first, as before
    values = {"tenant_id": tenant_id, "anomaly_id": anomaly.id, "rule": anomaly.rule, "severity": anomaly.severity,
              "session_id": anomaly.session_id, "station_id": anomaly.station_id, "message": anomaly.message[:500],
              "details": data["details"]}
    if not inserts.insert_new(db, AnomalyRow, values):  # a concurrent detector's row wins: we skip
        return None
    emit(db, tenant_id, "billing.anomaly", {"anomaly": data})
    return data


def list_anomalies(db: DbSession, tenant_id: str, rule: str | None = None, session_id: str | None = None,
                   station_id: str | None = None, limit: int = 100) -> dict[str, Any]:
    """Newest first."""
    if rule is not None and rule not in SEVERITY:
        raise AnomalyInputError("rule", "one of: " + ", ".join(SEVERITY))
    query = select(AnomalyRow).where(AnomalyRow.tenant_id == tenant_id)
    for column, value in ((AnomalyRow.rule, rule), (AnomalyRow.session_id, session_id),
                          (AnomalyRow.station_id, station_id)):
        if value is not None:
            query = query.where(column == value)
    rows = db.scalars(query.order_by(AnomalyRow.created_at.desc(), AnomalyRow.anomaly_id).limit(limit))
    return {"items": [row.to_dict() for row in rows]}


# --------------------------------------------------------------------------------------- session rules


def parse_instant(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def session_energy(doc: dict[str, Any], rating: Mapping[str, Any] | None = None) -> Decimal | None:
    """Total kWh: the document's ``energy_kwh``, else its last cumulative meter sample, else the rating's."""
    candidates: list[Any] = [doc.get("energy_kwh")]
    samples = doc.get("meter_samples") or []
    if samples:
        last = samples[-1]
        if isinstance(last, dict):
            candidates.append(last.get("energy_kwh"))
        elif isinstance(last, list | tuple) and len(last) > 1:
            candidates.append(last[1])
    candidates.append((rating or {}).get("total_energy"))
    for value in candidates:
        if value is None or isinstance(value, bool):
            continue
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            continue
        if number.is_finite():
            return number
    return None


def _hours(start: datetime, end: datetime) -> Decimal:
    return Decimal(int((end - start).total_seconds())) / Decimal(3600)


def session_rules(tenant_id: str, session_id: str, doc: dict[str, Any], limits: Thresholds,
                  rating: Mapping[str, Any] | None = None) -> list[Anomaly]:
    """The pure rules on one session document (duplicates need the database: see ``check_session``)."""
    out: list[Anomaly] = []
    station = doc.get("station_id")
    energy = session_energy(doc, rating)
    start, end = parse_instant(doc.get("start")), parse_instant(doc.get("end"))
    if energy is not None and energy < 0:
        out.append(make(tenant_id, "negative_energy", session_id, station,
                        f"Session {session_id} reports negative energy ({energy} kWh)",
                        {"energy_kwh": str(energy)}))
    if start is None or end is None:
        return out
    hours = _hours(start, end)
    if energy is not None and energy > 0 and energy > limits.max_power_kw * hours:
        out.append(make(tenant_id, "implausible_energy", session_id, station,
                        f"Session {session_id}: {energy} kWh in {hours.quantize(Decimal('0.01'))} h exceeds "
                        f"{limits.max_power_kw} kW", {"energy_kwh": str(energy), "hours": str(hours),
                                                      "max_power_kw": str(limits.max_power_kw)}))
    if hours > limits.max_session_hours:
        out.append(make(tenant_id, "long_session", session_id, station,
                        f"Session {session_id} lasted {hours.quantize(Decimal('0.01'))} h (threshold "
                        f"{limits.max_session_hours} h)",
                        {"hours": str(hours), "max_session_hours": str(limits.max_session_hours)}))
    return out


DUPLICATE_CANDIDATES = 8  # sessions at one station and start instant compared by energy (more: not looked at)


@cache
def _duplicate_candidates() -> Select[tuple[str, dict[str, Any]]]:
    """Built once (on first use: the sessions table is a late import here)."""
    from connector.storage.tables.core import SessionRow

    return select(SessionRow.session_id, SessionRow.document).where(
        SessionRow.tenant_id == bindparam("tenant_id"), SessionRow.station_id == bindparam("station_id"),
        SessionRow.start_at == bindparam("start_at"), SessionRow.session_id != bindparam("session_id"),
    ).order_by(SessionRow.session_id).limit(DUPLICATE_CANDIDATES)


def duplicate_of(db: DbSession, tenant_id: str, session_id: str, doc: dict[str, Any],
                 start_at: datetime | None) -> str | None:
    """Another session id at the same station, start and energy (a charger re-sent it under a new id)."""
    station, energy = doc.get("station_id"), session_energy(doc)
    start = parse_instant(doc.get("start"))
    if not station or start_at is None or start is None or energy is None:
        return None
    # the first few by id: a session re-sent under n new ids is found among them at the same cost every time,
    # not by reading all n documents (which made each re-send dearer than the one before)
    rows = db.execute(_duplicate_candidates(), {"tenant_id": tenant_id, "station_id": station, "start_at": start_at,
                                                "session_id": session_id})
    for other_id, other in rows:
        if parse_instant(other.get("start")) == start and session_energy(other) == energy:
            return str(other_id)
    return None


def duplicate_anomaly(tenant_id: str, session_id: str, other_id: str, station_id: str | None,
                      start: Any, energy: Decimal | None) -> Anomaly:
    """Keyed on the pair, so checking either session of it finds the same anomaly."""
    pair = tuple(sorted((session_id, other_id)))
    return make(tenant_id, "duplicate_session", session_id, station_id,
                f"Session {session_id} duplicates {other_id} (same station, start and energy)",
                {"duplicate_of": other_id, "start": str(start), "energy_kwh": None if energy is None else str(energy)},
                key=pair)


def _as_dict(rating: RatedSession | RatedSessionJson | None) -> RatedSessionJson | None:
    if rating is None or isinstance(rating, dict):
        return rating
    return rating.to_dict() if hasattr(rating, "to_dict") else None


def check_session(db: DbSession, tenant_id: str, session_row: Any,
                  rating: RatedSession | RatedSessionJson | None = None,
                  limits: Thresholds | None = None) -> list[dict[str, Any]]:
    """Run the session rules on a stored session (``SessionRow`` or its document) and emit what is new.

    Returns the anomalies emitted now (already-known ones are not repeated). Never commits. ``limits``: the
    tenant's thresholds when the caller has read them in this transaction already.
    """
    doc = dict(session_row.document if hasattr(session_row, "document") else session_row)
    session_id = str(getattr(session_row, "session_id", None) or doc.get("id"))
    if limits is None:
        limits = thresholds(db, tenant_id)
    found = session_rules(tenant_id, session_id, doc, limits, _as_dict(rating))
    start_at = getattr(session_row, "start_at", None) or parse_instant(doc.get("start"))
    other = duplicate_of(db, tenant_id, session_id, doc, start_at)
    if other is not None:
        found.append(duplicate_anomaly(tenant_id, session_id, other, doc.get("station_id"), doc.get("start"),
                                       session_energy(doc)))
    out = []
    for anomaly in found:
        if anomaly.rule in limits.disabled_rules:
            continue
        emitted = record(db, tenant_id, anomaly)
        if emitted is not None:
            out.append(emitted)
    return out


detect = check_session  # the name docs/architecture.md gives the entry point


def record_rating_failure(db: DbSession, tenant_id: str, session_id: str, station_id: str | None,
                          field: str, reason: str) -> dict[str, Any] | None:
    """A session the rating core refused (``RatingError(field, reason)``): one anomaly per session+reason."""
    if "rating_failure" in thresholds(db, tenant_id).disabled_rules:
        return None
    anomaly = make(tenant_id, "rating_failure", session_id, station_id,
                   f"Session {session_id} could not be rated: {field}: {reason}",
                   {"field": field, "reason": reason}, key=(session_id, field, reason))
    return record(db, tenant_id, anomaly)
