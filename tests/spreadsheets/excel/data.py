"""Deterministic test data: a time-of-use tariff and random sessions (fixed seeds).

``random_sessions`` draws any session (many cross a band or midnight: the workbook must export them all);
``make_sessions`` keeps only sessions inside one band, for faces that price a session in one go.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connector.models import Session, Tariff
from connector.rating import rate

# Peak 17-20 (0.55), day 07-22 (0.45), night (0.295, 100 Wh steps); 1.20/h charging time in 3-min steps;
# 0.35 session fee; 19 % VAT everywhere.
TOU_TARIFF: dict[str, Any] = {
    "id": "TOU-EUR", "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.55", "vat": "19", "step_size": 1}],
         "restrictions": {"start_time": "17:00", "end_time": "20:00"}},
        {"price_components": [{"type": "ENERGY", "price": "0.45", "vat": "19", "step_size": 1}],
         "restrictions": {"start_time": "07:00", "end_time": "22:00"}},
        {"price_components": [{"type": "ENERGY", "price": "0.295", "vat": "19", "step_size": 100}]},
        {"price_components": [{"type": "TIME", "price": "1.20", "vat": "19", "step_size": 180},
                              {"type": "FLAT", "price": "0.35", "vat": "19"}]},
    ],
}
STATIONS = ("ST-NORTH", "ST-SOUTH", "ST-DEPOT")
CLASSES = ("public", "member", "fleet", None)


def tou_tariff() -> Tariff:
    return Tariff.model_validate(TOU_TARIFF)


def fits_workbook(session: Session, tariff: Tariff) -> bool:
    """One energy element and charging time in one period (connector/spreadsheets/workbook/sessions.py refuses others)."""
    lines = rate(session, tariff).lines
    elements = {ln.element_index for ln in lines if ln.dimension == "ENERGY"}
    return len(elements) <= 1 and sum(1 for ln in lines if ln.dimension == "TIME") <= 1


def random_sessions(count: int, *, time_zone: str = "Europe/Berlin", seed: int = 7) -> list[Session]:
    """``count`` sessions at random in 2026 (3 min to 4 h, any start), whichever bands they cross."""
    rng = random.Random(seed)
    tz = ZoneInfo(time_zone)
    out: list[Session] = []
    for i in range(count):
        day = datetime(2026, 1, 1) + timedelta(days=rng.randrange(365))
        local = day.replace(hour=rng.randrange(24), minute=rng.randrange(60), second=rng.randrange(60), tzinfo=tz)
        start = local.astimezone(UTC)
        end = start + timedelta(minutes=rng.randrange(3, 240), seconds=rng.randrange(60))
        kwh = Decimal("12.5") if i % 17 == 0 else Decimal(rng.randrange(100, 80000)) / 1000
        out.append(Session(id=f"S-{i + 1:04d}", start=start, end=end, energy_kwh=kwh, time_zone=time_zone,
                           station_id=rng.choice(STATIONS), customer_class=rng.choice(CLASSES)))
    return out


def make_sessions(count: int, tariff: Tariff, *, time_zone: str = "Europe/Berlin", seed: int = 6,
                  whole_minutes: bool = False) -> list[Session]:
    """``count`` sessions in 2026 inside one band; ``whole_minutes`` for faces that take minutes."""
    rng = random.Random(seed)
    tz = ZoneInfo(time_zone)
    out: list[Session] = []
    while len(out) < count:
        day = datetime(2026, 1, 1) + timedelta(days=rng.randrange(365))
        second = 0 if whole_minutes else rng.randrange(60)
        local = day.replace(hour=rng.randrange(24), minute=rng.randrange(60), second=second, tzinfo=tz)
        start = local.astimezone(UTC)
        minutes = rng.randrange(3, 240)
        end = start + timedelta(minutes=minutes, seconds=0 if whole_minutes else rng.randrange(60))
        kwh = Decimal(rng.randrange(100, 80000)) / 1000
        if len(out) % 17 == 0:
            kwh = Decimal("12.5")  # 12.5 * 0.45 = 5.625: an exact half cent must round up
        session = Session(id=f"S-{len(out) + 1:03d}", start=start, end=end, energy_kwh=kwh, time_zone=time_zone,
                          station_id=rng.choice(STATIONS), customer_class=rng.choice(CLASSES))
        if fits_workbook(session, tariff):
            out.append(session)
    return out
