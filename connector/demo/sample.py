"""Deterministic sample data for the demo (no randomness: the printed figures are reproducible).

One operator in Berlin with three stations (two AC, one DC), two tariffs (AC time-of-use with an idle
fee after a 15-minute grace and a member price; DC fast with a session fee), four customers (public,
member, fleet invoiced per session, government tax-exempt) and one day of sessions, 2026-01-13 local
time. The last two sessions are still charging at the end of the day: they get interim costs and are
re-rated when the AC tariff's new version is published.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TIME_ZONE = "Europe/Berlin"
DAY = "2026-01-13"
STATIONS = ("BER-AC-01", "BER-AC-02", "BER-DC-01")
VAT_19 = [{"name": "VAT", "rate": "19"}]


def ac_tariff(day_price: str = "0.39", night_price: str = "0.29") -> dict[str, Any]:
    """AC: members 0.32/kWh; others day/night prices; idle 6.00/h after a 15-minute grace."""
    return {
        "id": "ac-standard", "currency": "EUR", "type": "REGULAR", "x_taxes": VAT_19,
        "elements": [
            {"price_components": [{"type": "PARKING_TIME", "price": "6.00", "step_size": 60}],
             "restrictions": {"x_min_idle_duration": 900}},
            {"price_components": [{"type": "ENERGY", "price": "0.32", "step_size": 1}],
             "restrictions": {"x_customer_classes": ["member"]}},
            {"price_components": [{"type": "ENERGY", "price": day_price, "step_size": 1}],
             "restrictions": {"start_time": "07:00", "end_time": "22:00"}},
            {"price_components": [{"type": "ENERGY", "price": night_price, "step_size": 1}]},
        ],
    }


def dc_tariff() -> dict[str, Any]:
    """DC fast: 1.00 session fee, 0.59/kWh, 0.10/min after 45 minutes (blocking fee)."""
    return {
        "id": "dc-fast", "currency": "EUR", "type": "REGULAR", "x_taxes": VAT_19,
        "elements": [
            {"price_components": [{"type": "FLAT", "price": "1.00", "step_size": 1},
                                  {"type": "ENERGY", "price": "0.59", "step_size": 1}]},
            {"price_components": [{"type": "TIME", "price": "6.00", "step_size": 60}],
             "restrictions": {"min_duration": 2700}},
        ],
    }


CUSTOMERS: tuple[dict[str, Any], ...] = (
    {"id": "cust-public", "customer_class": "public", "name": "Walk-in drivers", "email": "receipts@example.com"},
    {"id": "cust-member", "customer_class": "member", "name": "Anna Member", "email": "anna@example.com",
     "locale": "de_DE"},
    {"id": "cust-fleet", "customer_class": "fleet", "name": "Spree Logistics GmbH", "email": "ap@example.com",
     "invoice_per_session": True},
    {"id": "cust-city", "customer_class": "government", "name": "City of Berlin fleet", "tax_exempt": True,
     "email": "fleet@example.berlin"},
)

# (station, customer, local start HH:MM, charging minutes, idle minutes after charging, kWh)
SESSIONS: tuple[tuple[str, str, str, int, int, str], ...] = (
    ("BER-AC-01", "cust-public", "06:10", 95, 5, "14.250"),
    ("BER-AC-01", "cust-member", "08:05", 150, 40, "21.800"),
    ("BER-AC-01", "cust-fleet", "11:30", 120, 0, "18.400"),
    ("BER-AC-01", "cust-public", "14:45", 75, 25, "9.960"),
    ("BER-AC-01", "cust-city", "18:20", 180, 10, "26.100"),
    ("BER-AC-02", "cust-member", "07:40", 60, 0, "7.125"),
    ("BER-AC-02", "cust-public", "09:15", 210, 65, "31.500"),
    ("BER-AC-02", "cust-fleet", "13:50", 90, 20, "12.880"),
    ("BER-AC-02", "cust-public", "21:10", 120, 0, "16.040"),
    ("BER-DC-01", "cust-public", "07:05", 28, 0, "38.700"),
    ("BER-DC-01", "cust-fleet", "08:40", 52, 0, "61.250"),
    ("BER-DC-01", "cust-member", "12:15", 35, 0, "44.000"),
    ("BER-DC-01", "cust-city", "16:30", 41, 0, "52.480"),
    ("BER-DC-01", "cust-public", "19:55", 64, 0, "70.010"),
)
# still charging at 23:30 local: (station, customer, local start, kWh so far)
OPEN_SESSIONS: tuple[tuple[str, str, str, str], ...] = (
    ("BER-AC-02", "cust-member", "22:40", "4.200"),
    ("BER-AC-01", "cust-public", "23:05", "2.150"),
)
AS_OF_LOCAL = "23:30"
TARIFF_CHANGE_LOCAL = "23:15"  # the AC tariff's night price changes at 23:15 (apply_from_effective_time)


def local(hhmm: str, day: str = DAY) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=ZoneInfo(TIME_ZONE))


def tariff_for(station: str) -> str:
    return "dc-fast" if "-DC-" in station else "ac-standard"


def _iso(value: datetime) -> str:
    return value.isoformat()


def session_events() -> list[dict[str, Any]]:
    """Start and end events (the body of POST /v1/sessions/events) for the day's completed sessions."""
    events: list[dict[str, Any]] = []
    for n, (station, customer, start_hhmm, charge_min, idle_min, kwh) in enumerate(SESSIONS, start=1):
        sid = f"demo-{n:03d}"
        start = local(start_hhmm)
        charging_end = start + timedelta(minutes=charge_min)
        end = charging_end + timedelta(minutes=idle_min)
        common = {"station_id": station, "customer_id": customer, "tariff_id": tariff_for(station),
                  "time_zone": TIME_ZONE, "currency": "EUR"}
        events.append({"event_id": f"{sid}-start", "type": "start", "session_id": sid, "timestamp": _iso(start),
                       "source": "demo", "session": {**common, "start": _iso(start)}})
        events.append({"event_id": f"{sid}-end", "type": "end", "session_id": sid, "timestamp": _iso(end),
                       "source": "demo", "session": {**common, "start": _iso(start), "end": _iso(end),
                                                     "charging_ended_at": _iso(charging_end), "energy_kwh": kwh}})
    return events


def open_session_events() -> list[dict[str, Any]]:
    """Start + an update with the energy so far for the sessions still charging."""
    events: list[dict[str, Any]] = []
    for n, (station, customer, start_hhmm, kwh) in enumerate(OPEN_SESSIONS, start=1):
        sid = f"demo-open-{n:02d}"
        start = local(start_hhmm)
        common = {"station_id": station, "customer_id": customer, "tariff_id": tariff_for(station),
                  "time_zone": TIME_ZONE, "currency": "EUR", "start": _iso(start)}
        events.append({"event_id": f"{sid}-start", "type": "start", "session_id": sid, "timestamp": _iso(start),
                       "source": "demo", "session": common})
        events.append({"event_id": f"{sid}-update", "type": "update", "session_id": sid,
                       "timestamp": _iso(local(AS_OF_LOCAL)), "source": "demo",
                       "session": {**common, "energy_kwh": kwh}})
    return events
