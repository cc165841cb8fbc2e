"""The columns a set-based reconciliation sums, derived from a session's document and stored rating.

Why: a stored reconciliation of a month is one SQL ``GROUP BY`` only if every number it sums is an exact
integer in a column (the rating's amount due in the currency's minor units, its energy in 1e-6 kWh) and the
local-time period test is a comparison of ``start_at`` with UTC bounds per ``time_zone``. ``recon_kind``
says which sessions that arithmetic covers exactly:

- ``PLAIN`` (1): ended, a stored rating whose amount, currency, class and energy are all representable;
- ``OPEN`` (2): not ended (reconciliation only counts it);
- ``PER_SESSION`` (0): anything else (no rating, negative energy, a naive start...): reconciled one by one;
- ``UNSUMMABLE`` (3): an energy the report cannot hold: the whole run takes the per-session path.

Derived on every ORM insert/update of a session row (``connector.storage.tables.core``) and by migration
0010 for existing rows, so the columns never disagree with the documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.money import to_minor

PER_SESSION, PLAIN, OPEN, UNSUMMABLE = 0, 1, 2, 3
ENERGY_SCALE = 6  # rated_energy holds kWh * 10**6 (exact for every meter reading to the mWh)
ENERGY_KEY_MAX = 60
TIME_ZONE_MAX = 64
CLASS_MAX = 40
_BIG = 2**62
WH = Decimal("0.001")


def _instant(value: Any) -> datetime | None:
    """The document's start as reconciliation parses it (None when missing or unparseable)."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def _scaled(value: Decimal, places: int) -> int | None:
    """``value * 10**places`` when that is an integer that a BIGINT holds, else None."""
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value() or abs(scaled) >= _BIG:
        return None
    return int(scaled)


def energy_key(energy: Decimal) -> str:
    """One text per numeric value (``10``, ``10.0`` and ``1E+1`` are the same key): duplicate detection
    compares energies by value."""
    return "0" if energy == 0 else format(energy.normalize(), "f")


def _accountable(energy: Decimal) -> bool:
    try:
        energy.quantize(WH)
    except InvalidOperation:
        return False
    return True


def _str_or_none(doc: Mapping[str, Any], key: str) -> bool:
    value = doc.get(key)
    return value is None or isinstance(value, str)


def derive(document: Mapping[str, Any] | None, rating: Mapping[str, Any] | None, start_at: datetime | None,
           tariff_id: str | None) -> dict[str, Any]:
    """The reconciliation columns of one session row (see the module docstring)."""
    doc: Mapping[str, Any] = document if isinstance(document, Mapping) else {}
    rated: Mapping[str, Any] = rating if isinstance(rating, Mapping) else {}
    zone = doc.get("time_zone")
    out: dict[str, Any] = {"time_zone": zone if isinstance(zone, str) and len(zone) <= TIME_ZONE_MAX else None,
                           "energy_key": None, "rated_energy": None, "due_minor": None, "rated_currency": None,
                           "rated_class": None, "recon_kind": PER_SESSION}
    # the energy reconciliation reads in stored mode: the document's energy_kwh, else the rating's total
    raw_energy = doc.get("energy_kwh")
    raw_total = rated.get("total_energy")
    energy, source = _number(raw_energy), raw_energy
    if energy is None:
        energy, source = _number(raw_total), raw_total
    if (zone is not None and out["time_zone"] is None) or (energy is not None and not isinstance(source, str)):
        out["recon_kind"] = UNSUMMABLE  # JSON numbers or odd zones: only the per-session path reads them as-is
        return out
    if energy is not None:
        if not _accountable(energy):
            out["recon_kind"] = UNSUMMABLE
            return out
        key = energy_key(energy)
        if len(key) > ENERGY_KEY_MAX:
            out["recon_kind"] = UNSUMMABLE
            return out
        out["energy_key"] = key
    start = _instant(doc.get("start"))
    if start is not None and (start.tzinfo is None or start != _aware(start_at)):
        out["recon_kind"] = UNSUMMABLE  # a start other than start_at: only the per-session path reads it
        return out
    simple = (start is not None and isinstance(doc.get("start"), str)
              and all(_str_or_none(doc, k) for k in ("end", "customer_id", "customer_class", "tariff_id"))
              and (doc.get("tariff_id") or tariff_id) == tariff_id
              and (energy is None or energy >= 0))
    if not simple:
        return out
    if doc.get("end") is None:
        out["recon_kind"] = OPEN
        return out
    invoice = rated.get("invoice")
    amount = invoice.get("amount_due") if isinstance(invoice, Mapping) else None
    currency, klass = rated.get("currency"), rated.get("customer_class")
    if not (isinstance(amount, str) and isinstance(currency, str) and isinstance(klass, str) and klass
            and len(klass) <= CLASS_MAX and (raw_total is None or isinstance(raw_total, str))):
        return out
    try:
        due = to_minor(amount, currency)
    except (ValueError, ArithmeticError):
        return out
    total = None
    if raw_total is not None:
        number = _number(raw_total)
        total = None if number is None else _scaled(number, ENERGY_SCALE)
        if total is None:
            return out
    if abs(due) >= _BIG:
        return out
    out.update(rated_energy=total, due_minor=due, rated_currency=currency, rated_class=klass, recon_kind=PLAIN)
    return out
