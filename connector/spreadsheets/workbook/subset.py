"""The tariff subset that plain spreadsheet formulas can price, and its table form.

Why a subset: the workbook recomputes each session with ordinary Excel functions so finance can audit
it, and ordinary formulas cannot express every OCPI restriction. Supported (everything else is refused
with a ``WorkbookError`` naming the feature):

- ENERGY prices by time-of-day band: elements whose only restrictions are ``start_time``/``end_time``
  and whose only components are ENERGY; an unrestricted ENERGY element is the fallback;
- one unrestricted TIME price (per hour) whose step_size is 0 or a multiple of 9 s (36, 180, 900, 3600):
  the rating core keeps hours as 28-digit Decimals, and a step such as 60 s (1/60 h) does not divide
  them exactly, so at exact multiples the core can bill one step more than the formula's whole-second
  CEILING (a 7 min session in 60 s steps is billed 8 min); such tariffs are refused until the core
  rounds on exact durations;
- one unrestricted FLAT fee;
- one VAT rate shared by every component (or no VAT at all).

The band table is derived with the rating core's own restriction test (``CompiledTariff.select``),
so the workbook never re-decides which element applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from connector.models.tariff import PriceComponent, Tariff, TariffDimensionType
from connector.money import minor_units
from connector.rating.restrictions import State, compile_tariff
from connector.validation import FieldError

_ALLOWED_RESTRICTIONS = {"start_time", "end_time"}
_E = TariffDimensionType.ENERGY


class WorkbookError(FieldError):
    """Input the workbook formulas cannot price; ``field`` names the culprit, ``reason`` the feature."""


@dataclass(frozen=True, slots=True)
class Band:
    """Local minutes ``[from_minute, to_minute)`` priced by tariff element ``element`` (None: no price)."""

    from_minute: int
    to_minute: int
    element: int | None
    price: Decimal
    step_wh: int


@dataclass(frozen=True, slots=True)
class WorkbookTariff:
    """A tariff reduced to what the workbook's formulas read."""

    tariff: Tariff
    bands: tuple[Band, ...]
    vat: Decimal  # percent; 0 when no component carries VAT
    flat: Decimal | None
    time_price: Decimal | None
    time_step_s: int
    decimals: int


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:5])


def _state(minute: int) -> State:
    """A neutral state at a local clock time (the subset has no other instant restriction)."""
    return State(
        local_time=time(minute // 60, minute % 60), local_date=date(2000, 1, 3), weekday=0,
        energy_kwh=Decimal(0), duration_s=0, idle_s=None, customer_class=None, min_power=None,
        max_power=None, min_current=None, max_current=None, reservation=False, reservation_expired=False,
    )


def _check_shape(tariff: Tariff) -> None:
    for name in ("min_price", "max_price", "x_taxes", "x_volume_tiers", "x_customer_classes"):
        if getattr(tariff, name):
            raise WorkbookError(f"tariff.{name}", "not supported by the workbook formulas")
    for i, element in enumerate(tariff.elements):
        r = element.restrictions
        used = set() if r is None else {k for k, v in r.model_dump(exclude_none=True).items() if v not in ([], None)}
        extra = sorted(used - _ALLOWED_RESTRICTIONS)
        if extra:
            raise WorkbookError(f"tariff.elements[{i}].restrictions.{extra[0]}",
                                "only start_time/end_time (time-of-day bands) are supported")
        for j, component in enumerate(element.price_components):
            where = f"tariff.elements[{i}].price_components[{j}]"
            if component.type is TariffDimensionType.PARKING_TIME:
                raise WorkbookError(f"{where}.type", "PARKING_TIME is not supported by the workbook formulas")
            if used and component.type is not _E:
                raise WorkbookError(f"{where}.type",
                                    f"a time-of-day band may only price ENERGY, not {component.type.value}")
            if component.type is TariffDimensionType.TIME and component.step_size % 9:
                raise WorkbookError(f"{where}.step_size",
                                    f"a TIME step of {component.step_size} s is not a whole number of 1/100 h "
                                    "and can round differently in the rating core; use 0 or a multiple of 9 s "
                                    "(36, 180, 900, 3600)")


def _vat(tariff: Tariff) -> Decimal:
    rates = {c.vat for e in tariff.elements for c in e.price_components}
    if len(rates) > 1:
        shown = ", ".join(sorted("none" if r is None else str(r) for r in rates))
        raise WorkbookError("tariff.vat", f"mixed VAT rates ({shown}) are not supported; use one rate")
    only = rates.pop()
    return Decimal(0) if only is None else only


def _bands(tariff: Tariff) -> tuple[Band, ...]:
    compiled = compile_tariff(tariff)
    cuts = {0}
    for element in tariff.elements:
        r = element.restrictions
        for value in (r.start_time, r.end_time) if r else ():
            if value is not None:
                cuts.add(_minutes(value))
    edges = [*sorted(cuts), 24 * 60]
    bands: list[Band] = []
    for start, end in zip(edges, edges[1:], strict=False):
        hit = compiled.select(_E, _state(start))
        element_index, comp = (None, None) if hit is None else hit
        price = comp.price if comp is not None else Decimal(0)
        step = comp.step_size if comp is not None else 0
        if bands and bands[-1].element == element_index:
            prev = bands[-1]
            bands[-1] = Band(prev.from_minute, end, element_index, prev.price, prev.step_wh)
        else:
            bands.append(Band(start, end, element_index, price, step))
    return tuple(bands)


def _unrestricted(tariff: Tariff, kind: TariffDimensionType) -> PriceComponent | None:
    hit = compile_tariff(tariff).select(kind, _state(0))
    return None if hit is None else hit[1]


def workbook_tariff(tariff: Tariff) -> WorkbookTariff:
    """Check ``tariff`` against the supported subset and reduce it to bands and parameters."""
    _check_shape(tariff)
    vat = _vat(tariff)
    flat = _unrestricted(tariff, TariffDimensionType.FLAT)
    time_comp = _unrestricted(tariff, TariffDimensionType.TIME)
    return WorkbookTariff(
        tariff=tariff,
        bands=_bands(tariff),
        vat=vat,
        flat=None if flat is None else flat.price,
        time_price=None if time_comp is None else time_comp.price,
        time_step_s=0 if time_comp is None else time_comp.step_size,
        decimals=minor_units(tariff.currency),
    )
