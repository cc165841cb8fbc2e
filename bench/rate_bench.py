"""Rating throughput on one core: (a) OCPI CDRs, (b) raw sessions with a 4-element time-of-use tariff.

Run: python3 bench/rate_bench.py [--seconds 3]. Prints sessions rated per second. Inputs are parsed
once (pydantic) outside the timed loop; the figure is the rating function itself (rate() → result).
A second figure includes JSON parsing of each CDR, as an API worker would see it.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from connector.models import Cdr, Session, Tariff
from connector.rating import RatingOptions, rate

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "ocpi" / "tandemdrive-v0.6.1" / "test_data"

TOU = Tariff.model_validate({
    "id": "TOU4", "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.55", "vat": 19, "step_size": 1}],
         "restrictions": {"start_time": "17:00", "end_time": "21:00", "day_of_week": ["MONDAY", "TUESDAY",
                          "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
        {"price_components": [{"type": "ENERGY", "price": "0.29", "vat": 19, "step_size": 1}],
         "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
        {"price_components": [{"type": "PARKING_TIME", "price": "6.00", "vat": 19, "step_size": 60}],
         "restrictions": {"x_min_idle_duration": 900}},
        {"price_components": [{"type": "ENERGY", "price": "0.39", "vat": 19, "step_size": 1},
                              {"type": "FLAT", "price": "0.50", "vat": 19, "step_size": 1}]},
    ],
})


def _cdr_cases() -> list[tuple[Cdr, Tariff, str]]:
    cases = []
    for path in sorted(SHARED.glob("*/cdr*.json")):
        text = path.read_text()
        cases.append((Cdr.model_validate_json(text), Tariff.model_validate_json((path.parent / "tariff.json").read_text()),
                      text))
    return cases


def _sessions(n: int) -> list[Session]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        start = datetime(2026, 1, 12, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 7 * 24 * 60))
        charge = timedelta(minutes=rng.randrange(10, 240))
        idle = timedelta(minutes=rng.randrange(0, 60))
        out.append(Session(id=f"s{i}", time_zone="Europe/Berlin", start=start, end=start + charge + idle,
                           charging_ended_at=start + charge,
                           energy_kwh=Decimal(rng.randrange(1000, 60000)) / 1000))
    return out


def _measure(fn, items, seconds: float) -> tuple[float, int]:
    done, t0 = 0, time.perf_counter()
    while True:
        for item in items:
            fn(item)
        done += len(items)
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return done / elapsed, done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    utc = RatingOptions(time_zone="UTC")
    cdrs = _cdr_cases()
    rate_a, n_a = _measure(lambda c: rate(c[0], [c[1]], options=utc), cdrs, args.seconds)
    rate_a2, n_a2 = _measure(lambda c: rate(Cdr.model_validate_json(c[2]), [c[1]], options=utc), cdrs, args.seconds)
    sessions = _sessions(500)
    rate_b, n_b = _measure(lambda s: rate(s, [TOU]), sessions, args.seconds)
    periods = sum(len(rate(s, [TOU]).lines) for s in sessions) / len(sessions)
    print("rating throughput, single core (python", ".".join(map(str, __import__("sys").version_info[:3])) + ")")
    print(f"(a) OCPI CDRs (9 reference vectors):          {rate_a:>10,.0f} CDRs/s   ({n_a} rated)")
    print(f"    incl. JSON parsing + validation per CDR:  {rate_a2:>10,.0f} CDRs/s   ({n_a2} rated)")
    print(f"(b) raw sessions, 4-element time-of-use tariff: {rate_b:>8,.0f} sessions/s ({n_b} rated, "
          f"{periods:.1f} priced lines/session)")
    print(f"target (a) >= 50,000 CDRs/s per core: {'met' if rate_a >= 50000 else 'NOT met'}")


if __name__ == "__main__":
    main()
