"""OCPP meter values → ``MeterSample`` (cumulative kWh since session start, kW, A).

Works on the snake_case dicts the ``ocpp`` package hands to handlers, for both versions:
1.6 ``sampled_value[].value`` is a string with ``unit``; 2.0.1 is a number with
``unit_of_measure {unit, multiplier}``. Policy (docs/ingest.md):

- Energy.Active.Import.Register (default measurand when omitted) is the meter register; the sample is
  ``(register - baseline) / 1000`` kWh. Power.Active.Import → kW, Current.Import → A.
- Only the outlet is read (``location`` absent or ``Outlet``). A value without ``phase`` wins; otherwise
  phases are summed for energy and power, and the highest phase is taken for current.
- A meter value with power/current but no energy register carries the last known energy forward.
- A register below the meter start or below an earlier register of the transaction is refused
  (``IngestError`` naming the meter value): a cumulative reading never goes down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.models.session_event import IngestError

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
WANTED = (ENERGY, POWER, CURRENT)

# register values → Wh, power → kW, current → A
_SCALE = {
    ENERGY: {"Wh": Decimal(1), "kWh": Decimal(1000)},
    POWER: {"W": Decimal("0.001"), "kW": Decimal(1)},
    CURRENT: {"A": Decimal(1)},
}
_DEFAULT_UNIT = {ENERGY: "Wh", POWER: "W", CURRENT: "A"}


@dataclass(slots=True)
class Reading:
    """One meterValue reduced to the three measurands we price with (None = not reported)."""

    timestamp: datetime
    register_wh: Decimal | None
    power_kw: Decimal | None
    current_a: Decimal | None
    context: str | None
    field: str = "meter_value"  # where it came from, for a refusal


def _number(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise IngestError(field, f"'{value}' is not a number") from exc
    if not number.is_finite():
        raise IngestError(field, "must be a finite number")
    return number


def _scaled(sv: Mapping[str, Any], measurand: str, field: str) -> Decimal:
    uom = sv.get("unit_of_measure") or {}
    unit = uom.get("unit") or sv.get("unit") or _DEFAULT_UNIT[measurand]
    multiplier = int(uom.get("multiplier") or 0)
    factor = _SCALE[measurand].get(unit)
    if factor is None:
        raise IngestError(f"{field}.unit", f"unit '{unit}' is not supported for {measurand}")
    return _number(sv.get("value"), f"{field}.value") * factor * (Decimal(10) ** multiplier)


def _parse_time(value: Any, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise IngestError(field, f"'{value}' is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        raise IngestError(field, "must carry a time zone offset")
    return parsed


def _pick(values: dict[str | None, Decimal], combine: str) -> Decimal | None:
    if not values:
        return None
    if None in values:
        return values[None]
    phases = [v for k, v in values.items() if k in ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N")]
    phases = phases or list(values.values())
    return max(phases) if combine == "max" else sum(phases, Decimal(0))


def readings(meter_values: Iterable[Mapping[str, Any]] | None, field: str = "meter_value") -> list[Reading]:
    """Reduce OCPP meterValue[] to readings, in time order."""
    out: list[Reading] = []
    for i, mv in enumerate(meter_values or []):
        where = f"{field}[{i}]"
        at = _parse_time(mv.get("timestamp"), f"{where}.timestamp")
        per: dict[str, dict[str | None, Decimal]] = {m: {} for m in WANTED}
        context: str | None = None
        for j, sv in enumerate(mv.get("sampled_value") or []):
            measurand = sv.get("measurand") or ENERGY
            if measurand not in WANTED or sv.get("location", "Outlet") != "Outlet":
                continue
            context = context or sv.get("context")
            per[measurand][sv.get("phase")] = _scaled(sv, measurand, f"{where}.sampled_value[{j}]")

        out.append(Reading(at, _pick(per[ENERGY], "sum"), _pick(per[POWER], "sum"), _pick(per[CURRENT], "max"),
                           context, where))
    out.sort(key=lambda r: r.timestamp)
    return out


def to_samples(found: list[Reading], baseline_wh: Decimal | None,
               last_kwh: Decimal | None = None) -> tuple[list[dict[str, Any]], Decimal | None]:
    """Readings → MeterSample dicts ``{timestamp, energy_kwh, power_kw?, current_a?}``.

    ``baseline_wh`` is the register at session start (1.6 ``meterStart``, 2.0.1 first register). Returns the
    samples and the last cumulative kWh (to carry into the next message).
    """
    samples: list[dict[str, Any]] = []
    for r in found:
        if r.register_wh is not None and baseline_wh is not None:
            kwh = (r.register_wh - baseline_wh) / Decimal(1000)
            if kwh < 0 or (last_kwh is not None and kwh < last_kwh):
                earlier = "the meter start" if kwh < 0 else "an earlier reading"
                raise IngestError(f"{r.field}.sampled_value", f"energy register {r.register_wh} Wh is below "
                                  f"{earlier}: cumulative readings must not go down")
            last_kwh = kwh
        if last_kwh is None:
            continue
        sample: dict[str, Any] = {"timestamp": r.timestamp.isoformat(), "energy_kwh": str(last_kwh)}
        if r.power_kw is not None:
            sample["power_kw"] = str(r.power_kw)
        if r.current_a is not None:
            sample["current_a"] = str(r.current_a)
        samples.append(sample)
    return samples, last_kwh
