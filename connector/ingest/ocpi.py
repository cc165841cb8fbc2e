"""An OCPI 2.2.1 CDR → the ``end`` event of one Session (the receiver routes are ``connector.api.ocpi``).

The charging periods become cumulative meter samples and parking periods ``charging_ended_at``, so the
session is priced by *our* tariffs like every other source; the CPO's own totals ride along as
``reported_total_cost`` for reconciliation. The event id ``ocpi:<country>:<party>:<cdr id>`` makes a CDR
pushed twice a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from connector.models import Cdr
from connector.models.session_event import IngestError, SessionEvent, parse_event

POWER_DIMENSIONS = ("MAX_POWER", "POWER")
CURRENT_DIMENSIONS = ("MAX_CURRENT", "CURRENT")


def cdr_session_id(cdr: Cdr) -> str:
    return f"{cdr.country_code}-{cdr.party_id}-{cdr.id}".strip("-")[:64]


def cdr_to_event(cdr: Cdr, raw: dict[str, Any], defaults: dict[str, Any] | None = None,
                 tariff_id_of: Callable[[str], str] | None = None, session_id: str | None = None) -> SessionEvent:
    """CDR → ``end`` event of a Session: the energy profile comes from the charging periods.

    ``defaults`` (app config ``OCPI_SESSION_DEFAULTS``): fields a CDR may lack, e.g. the ``tariff_id`` of
    our contract with the CPO when the CDR embeds no tariff. ``tariff_id_of``: our id of a tariff the CDR
    names (a registered partner's tariffs are stored under ``<country><party>-<id>``). ``session_id``: the
    stored session this CDR ends (one the sessions module opened), instead of a session of its own."""
    samples: list[dict[str, Any]] = []
    cumulative = Decimal(0)
    charging_ended_at: str | None = None
    for period in cdr.charging_periods:
        dims = {d.type.value: d.volume for d in period.dimensions}
        sample: dict[str, Any] = {"timestamp": period.start_date_time.isoformat(), "energy_kwh": str(cumulative)}
        power = next((dims[k] for k in POWER_DIMENSIONS if k in dims), None)
        current = next((dims[k] for k in CURRENT_DIMENSIONS if k in dims), None)
        if power is not None:
            sample["power_kw"] = str(power)
        if current is not None:
            sample["current_a"] = str(current)
        samples.append(sample)
        cumulative += dims.get("ENERGY", Decimal(0))
        is_parking = "PARKING_TIME" in dims and not dims.get("ENERGY")
        if is_parking and charging_ended_at is None:
            charging_ended_at = period.start_date_time.isoformat()
        elif not is_parking:
            charging_ended_at = None
    total = cdr.total_energy if cdr.total_energy is not None else cumulative
    samples.append({"timestamp": cdr.end_date_time.isoformat(), "energy_kwh": str(total)})
    session: dict[str, Any] = {
        **(defaults or {}),
        "start": cdr.start_date_time.isoformat(), "end": cdr.end_date_time.isoformat(), "energy_kwh": str(total),
        "currency": cdr.currency, "ocpi_cdr_id": cdr.id, "ocpi_session_id": cdr.session_id,
    }
    if charging_ended_at:
        session["charging_ended_at"] = charging_ended_at
    location = raw.get("cdr_location") or {}
    if location.get("id"):
        session["location_id"] = location["id"]
    if location.get("evse_uid"):
        session["evse_id"] = location["evse_uid"]
    if location.get("time_zone"):
        session["time_zone"] = location["time_zone"]
    token = raw.get("cdr_token") or {}
    if token.get("uid"):
        session["id_tag"] = token["uid"]
    named = cdr.tariffs[0].id if cdr.tariffs else next(
        (p.tariff_id for p in cdr.charging_periods if getattr(p, "tariff_id", None)), None)
    if named:
        session["tariff_id"] = tariff_id_of(named) if tariff_id_of else named
    if cdr.x_customer_class:
        session["customer_class"] = cdr.x_customer_class
    if cdr.total_cost is not None:
        session["reported_total_cost"] = cdr.total_cost.model_dump(mode="json")
    return parse_event({
        "event_id": f"ocpi:{cdr.country_code}:{cdr.party_id}:{cdr.id}", "type": "end",
        "session_id": session_id or cdr_session_id(cdr), "timestamp": cdr.end_date_time.isoformat(), "source": "ocpi",
        "session": session, "meter_samples": samples,
    })


def ocpi_session_id(country_code: str, party_id: str, session_id: str) -> str:
    """Our id of a session a partner reports through the sessions module."""
    return f"{country_code}-{party_id}-s-{session_id}".upper()[:64]


def session_to_event(raw: dict[str, Any], tariff_id_of: Callable[[str], str] | None = None,
                     defaults: dict[str, Any] | None = None) -> SessionEvent:
    """An OCPI 2.2.1 Session (PUT by the CPO while charging) → an ``update`` event of one of our sessions.

    The energy so far (``kwh`` at ``last_updated``) becomes a meter sample, so the interim cost is what our
    rating gives for it; the CPO's ``total_cost`` is kept as ``reported_total_cost`` only."""
    for name in ("country_code", "party_id", "id", "start_date_time", "kwh", "last_updated", "currency"):
        if raw.get(name) in (None, ""):
            raise IngestError(name, "required")
    try:
        kwh = Decimal(str(raw["kwh"]))
    except ArithmeticError:
        raise IngestError("kwh", "not a number") from None
    if not kwh.is_finite() or kwh < 0:
        raise IngestError("kwh", "must be a number >= 0")
    start, updated = str(raw["start_date_time"]), str(raw["last_updated"])
    session: dict[str, Any] = {**(defaults or {}), "start": start, "currency": str(raw["currency"]),
                               "ocpi_session_id": str(raw["id"])}
    named = next((p.get("tariff_id") for p in raw.get("charging_periods") or []
                  if isinstance(p, dict) and p.get("tariff_id")), None)
    if named:
        session["tariff_id"] = tariff_id_of(str(named)) if tariff_id_of else str(named)
    if raw.get("location_id"):
        session["location_id"] = str(raw["location_id"])
    if raw.get("evse_uid"):
        session["evse_id"] = str(raw["evse_uid"])
    token = raw.get("cdr_token") or {}
    if isinstance(token, dict) and token.get("uid"):
        session["id_tag"] = str(token["uid"])
    if isinstance(raw.get("total_cost"), dict):
        session["reported_total_cost"] = raw["total_cost"]
    samples = [{"timestamp": start, "energy_kwh": "0"}, {"timestamp": updated, "energy_kwh": str(kwh)}]
    sid = ocpi_session_id(str(raw["country_code"]), str(raw["party_id"]), str(raw["id"]))
    return parse_event({
        "event_id": f"ocpi-session:{sid}:{updated}", "type": "update", "session_id": sid, "timestamp": updated,
        "source": "ocpi", "session": session, "meter_samples": samples,
    })
