"""A fixed rating corpus: the reference vectors plus a seeded synthetic mix, and one hash per case.

Speed work must never change a result. Every case is rated and its full ``to_dict()`` (priced lines,
OCPI totals, invoice) — or the refusal (field, message) — is hashed; ``expected.json`` holds the hashes
of the engine as it was when the corpus was recorded. Regenerate only when a result is meant to change:
``python -m tests.rating.corpus.cases --write``.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from connector.models import Cdr, Customer, Session, Tariff
from connector.models.customer import Adjustment
from connector.money import RoundingPolicy
from connector.rating import RatingOptions, rate
from connector.validation import FieldError
from tests.paths import SHARED

EXPECTED = Path(__file__).with_name("expected.json")
VECTORS = SHARED / "ocpi" / "tandemdrive-v0.6.1" / "test_data"
SEED = 20261202
ZONES = ("Europe/Berlin", "Europe/Amsterdam", "America/New_York", "UTC", "Australia/Lord_Howe")
DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
POLICIES = tuple(RoundingPolicy)

Case = tuple[str, Callable[[], Any]]


def outcome(run: Callable[[], Any]) -> str:
    """The canonical text of one rating: its full JSON, or the refusal it raised."""
    try:
        result = run()
    except FieldError as exc:
        return f"refused {exc.field}: {exc}"
    return json.dumps(result.to_dict(), sort_keys=True, separators=(",", ":"))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _vector_cases() -> Iterator[Case]:
    for path in sorted(VECTORS.glob("*/cdr*.json")):
        cdr = Cdr.model_validate_json(path.read_text())
        tariff = Tariff.model_validate_json((path.parent / "tariff.json").read_text())
        name = f"vector/{path.parent.name}/{path.stem}"
        for tz in (None, "UTC", "Europe/Amsterdam"):
            for policy in POLICIES:
                opts = RatingOptions(time_zone=tz, rounding=policy)
                yield f"{name}/{tz}/{policy.value}", lambda c=cdr, t=tariff, o=opts: rate(c, [t], options=o)


def _price(rng: random.Random, lo: int, hi: int, scale: int = 100) -> str:
    return str(Decimal(rng.randrange(lo, hi)) / scale)


def _component(rng: random.Random, kind: str) -> dict[str, Any]:
    step = {"ENERGY": rng.choice([1, 1, 100, 500]), "TIME": rng.choice([1, 60, 300, 900]),
            "PARKING_TIME": rng.choice([1, 60, 900]), "FLAT": 1}[kind]
    out: dict[str, Any] = {"type": kind, "price": _price(rng, 0, 900), "step_size": step}
    if rng.random() < 0.8:
        out["vat"] = rng.choice(["19", "21", "7", "0", "20.5"])
    return out


def _restrictions(rng: random.Random) -> dict[str, Any] | None:
    r: dict[str, Any] = {}
    pick = rng.random
    if pick() < 0.4:
        a, b = rng.randrange(0, 24), rng.randrange(0, 24)
        r["start_time"], r["end_time"] = f"{a:02d}:{rng.choice([0, 30]):02d}", f"{b:02d}:00"
    if pick() < 0.2:
        r["day_of_week"] = sorted(rng.sample(DAYS, rng.randrange(1, 6)), key=DAYS.index)
    if pick() < 0.15:
        r["min_kwh"] = str(rng.randrange(0, 30))
    if pick() < 0.15:
        r["max_kwh"] = str(rng.randrange(5, 60))
    if pick() < 0.15:
        r["min_duration"] = rng.randrange(0, 7200)
    if pick() < 0.15:
        r["max_duration"] = rng.randrange(600, 14400)
    if pick() < 0.1:
        r["min_power"] = str(rng.randrange(1, 50))
    if pick() < 0.1:
        r["max_power"] = str(rng.randrange(10, 150))
    if pick() < 0.1:
        r["x_min_idle_duration"] = rng.randrange(0, 3600)
    if pick() < 0.05:
        r["x_customer_classes"] = ["fleet"]
    return r or None


def _tariff(rng: random.Random, ident: str, currency: str) -> dict[str, Any]:
    elements = []
    for _ in range(rng.randrange(1, 6)):
        kinds = rng.sample(["ENERGY", "TIME", "PARKING_TIME", "FLAT"], rng.randrange(1, 4))
        element: dict[str, Any] = {"price_components": [_component(rng, k) for k in kinds]}
        restrictions = _restrictions(rng)
        if restrictions:
            element["restrictions"] = restrictions
        elements.append(element)
    elements.append({"price_components": [_component(rng, "ENERGY"), _component(rng, "TIME")]})
    tariff: dict[str, Any] = {"id": ident, "currency": currency, "elements": elements}
    if rng.random() < 0.15:
        tariff["min_price"] = {"excl_vat": _price(rng, 100, 900)}
    if rng.random() < 0.15:
        tariff["max_price"] = {"excl_vat": _price(rng, 500, 3000), "incl_vat": _price(rng, 600, 3600)}
    return tariff


def _options(rng: random.Random) -> RatingOptions:
    adjustments: tuple[Adjustment, ...] = ()
    if rng.random() < 0.15:
        adjustments = (Adjustment(kind=rng.choice(["discount_percent", "surcharge_fixed", "incentive_per_kwh"]),
                                  name="adj", value=Decimal(rng.randrange(1, 30)) / 10),)
    return RatingOptions(rounding=rng.choice(POLICIES), adjustments=adjustments)


def _cdr_cases(rng: random.Random, n: int) -> Iterator[Case]:
    for i in range(n):
        currency = rng.choice(["EUR", "EUR", "USD", "JPY"])
        refuse = rng.random() < 0.03  # a tariff in another currency than the CDR: refused
        tariff = Tariff.model_validate(_tariff(rng, f"T{i}", "GBP" if refuse else currency))
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        at, periods = start, []
        for _ in range(rng.randrange(1, 6)):
            minutes = rng.randrange(1, 180)
            dims = [{"type": "TIME", "volume": str(Decimal(minutes) / 60)[:8]},
                    {"type": "ENERGY", "volume": _price(rng, 0, 5000)}]
            if rng.random() < 0.3:
                dims = [{"type": "PARKING_TIME", "volume": str(Decimal(minutes) / 60)[:8]}]
            if rng.random() < 0.2:
                dims.append({"type": "MAX_POWER", "volume": str(rng.randrange(3, 150))})
            periods.append({"start_date_time": at.isoformat(), "dimensions": dims})
            at += timedelta(minutes=minutes)
        cdr = Cdr.model_validate({
            "id": f"cdr{i}", "currency": currency, "start_date_time": start.isoformat(),
            "end_date_time": at.isoformat(), "charging_periods": periods,
            "cdr_location": {"time_zone": rng.choice(ZONES)}, "total_cost": {"excl_vat": "0"},
            "total_energy": "0", "total_time": "0",
        })
        opts = _options(rng)
        yield f"cdr/{i}", lambda c=cdr, t=tariff, o=opts: rate(c, [t], options=o)


def _dst_start(rng: random.Random) -> datetime:
    """Often near a DST change (last Sunday of March / October in Europe, US dates), else any day."""
    if rng.random() < 0.3:
        day = rng.choice([datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC),
                          datetime(2026, 3, 8, 6, tzinfo=UTC), datetime(2026, 11, 1, 5, tzinfo=UTC)])
        return day - timedelta(minutes=rng.randrange(0, 6 * 60))
    return datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 360 * 24 * 60))


def _session_cases(rng: random.Random, n: int) -> Iterator[Case]:
    customers = [None, Customer(id="c1", customer_class="fleet"), Customer(id="c2")]
    for i in range(n):
        tariffs = [Tariff.model_validate(_tariff(rng, f"S{i}", "EUR"))]
        if rng.random() < 0.1:  # a second version effective during the session
            later = _tariff(rng, f"S{i}", "EUR")
            tariffs[0] = tariffs[0].model_copy(update={"end_date_time": datetime(2026, 6, 1, tzinfo=UTC)})
            later["start_date_time"] = "2026-06-01T00:00:00Z"
            tariffs.append(Tariff.model_validate(later))
        start = _dst_start(rng)
        if rng.random() < 0.03:  # no tariff valid at the start: refused
            tariffs[0] = tariffs[0].model_copy(update={"start_date_time": start + timedelta(days=400)})
        if rng.random() < 0.1:
            start = datetime(2026, 6, 1, tzinfo=UTC) - timedelta(minutes=rng.randrange(1, 300))
        charge = timedelta(minutes=rng.randrange(1, 600))
        idle = timedelta(minutes=rng.randrange(0, 240)) if rng.random() < 0.6 else timedelta(0)
        fields: dict[str, Any] = {"id": f"s{i}", "time_zone": rng.choice(ZONES), "start": start,
                                  "end": start + charge + idle, "energy_kwh": _price(rng, 0, 80000, 1000)}
        if idle:
            fields["charging_ended_at"] = start + charge
        if rng.random() < 0.1:
            fields["reservation_start"] = start - timedelta(minutes=rng.randrange(1, 60))
            fields["reservation_expired"] = rng.random() < 0.5
        if rng.random() < 0.15 and charge > timedelta(minutes=4):
            step = charge / 4
            energy = [0, *sorted(rng.randrange(0, 60) for _ in range(3))]
            fields["meter_samples"] = [{"timestamp": start + step * k, "energy_kwh": str(energy[k]),
                                        "power_kw": str(rng.randrange(3, 150))} for k in range(4)]
            fields.pop("energy_kwh")
        session = Session.model_validate(fields)
        opts = _options(rng)
        if rng.random() < 0.1:
            opts = RatingOptions(rounding=opts.rounding, as_of=start + charge / 2)
        if len(tariffs) > 1 and rng.random() < 0.5:
            opts = RatingOptions(rounding=opts.rounding, tariff_switch="apply_from_effective_time")  # type: ignore[arg-type]
        customer = rng.choice(customers)
        yield f"session/{i}", lambda s=session, t=tariffs, c=customer, o=opts: rate(s, t, c, o)


def cases() -> list[Case]:
    """Every case, in a fixed order, from a fixed seed (inputs are built once, outside any timing)."""
    rng = random.Random(SEED)
    return [*_vector_cases(), *_cdr_cases(rng, 1500), *_session_cases(rng, 2500)]


def hashes() -> dict[str, str]:
    return {name: digest(outcome(run)) for name, run in cases()}


def main() -> None:
    out = hashes()
    if "--write" in sys.argv:
        EXPECTED.write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")
    refused = sum(1 for name, run in cases() if outcome(run).startswith("refused"))
    print(f"{len(out)} cases ({refused} refused), corpus digest {digest(json.dumps(out, sort_keys=True))}")


if __name__ == "__main__":
    main()
