"""Rating speed side by side with the independent OCPI engine in ``../shared/peers`` (same process, same run).

Run: python bench/rating_vs_peer.py [--repeats 7] [--rounds 3]
Compiled core: bash scripts/build_compiled.sh DIR, then EVBILL_COMPILED_DIR=DIR python bench/rating_vs_peer.py
Rounds alternate ours / peer and are timed in CPU time (the machine is shared: only ratios from one run
mean much). Prints CDRs/s for each engine as min / median over the repeats, and the ratio ours/peer:

- reference vectors (the 9 OCPI CDRs of the tandemdrive suite), pre-parsed and from JSON;
- a synthetic mix of 10,000 CDRs derived from those vectors (shifted start, scaled volumes, seeded);
- raw sessions with a 4-element time-of-use tariff (ours only; the peer rates CDRs only): target 30,000/s.

The peer is imported from ``../shared/peers/ocpi-tariffs-py/src`` (data, never copied into the project).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "shared" / "peers" / "ocpi-tariffs-py" / "src"))
if os.environ.get("EVBILL_COMPILED_DIR"):  # a compiled copy (scripts/build_compiled.sh) ahead of the sources
    sys.path.insert(0, os.environ["EVBILL_COMPILED_DIR"])

from ocpi_tariffs.v2_2_1 import models as peer_models  # noqa: E402
from ocpi_tariffs.v2_2_1.tariff_calculator import calculate_cdr_cost  # noqa: E402

from bench.rate_bench import TOU, _sessions  # noqa: E402
from connector.models import Cdr, Tariff  # noqa: E402
from connector.rating import RatingOptions, rate  # noqa: E402

VECTORS = ROOT.parent / "shared" / "ocpi" / "tandemdrive-v0.6.1" / "test_data"
AMS = RatingOptions(time_zone="Europe/Amsterdam")  # the peer reads every time as Europe/Amsterdam


def vectors() -> list[tuple[str, str]]:
    return [(p.read_text(), (p.parent / "tariff.json").read_text()) for p in sorted(VECTORS.glob("*/cdr*.json"))]


def synthetic(n: int, seed: int = 18) -> list[tuple[str, str]]:
    """Variants of the reference vectors: start shifted up to a year, period starts kept in order, volumes x0.1-3."""
    rng = random.Random(seed)
    base = [(json.loads(c), t) for c, t in vectors()]
    out = []
    for _ in range(n):
        doc, tariff = rng.choice(base)
        doc = copy.deepcopy(doc)
        shift = timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        scale = Decimal(rng.randrange(1, 30)) / 10

        def moved(value: str, by: timedelta = shift) -> str:
            return (datetime.fromisoformat(value.replace("Z", "+00:00")) + by).isoformat()

        doc["start_date_time"], doc["end_date_time"] = moved(doc["start_date_time"]), moved(doc["end_date_time"])
        for period in doc["charging_periods"]:
            period["start_date_time"] = moved(period["start_date_time"])
            for dim in period["dimensions"]:
                if dim["type"] == "ENERGY":
                    dim["volume"] = str(Decimal(str(dim["volume"])) * scale)
        out.append((json.dumps(doc), tariff))
    return out


def ours_parsed(cases: list[tuple[str, str]]) -> tuple[Callable[[], None], Callable[[], None]]:
    tariffs = {t: Tariff.model_validate_json(t) for _, t in cases}
    parsed = [(Cdr.model_validate_json(c), tariffs[t]) for c, t in cases]
    peer_tariffs = {t: peer_models.Tariff.model_validate_json(t) for _, t in cases}
    peer_parsed = [(peer_models.Cdr.model_validate_json(c), peer_tariffs[t]) for c, t in cases]

    def ours() -> None:
        for cdr, tariff in parsed:
            rate(cdr, [tariff], options=AMS)

    def peer() -> None:
        for cdr, tariff in peer_parsed:
            calculate_cdr_cost(cdr, tariff)

    return ours, peer


def from_json(cases: list[tuple[str, str]]) -> tuple[Callable[[], None], Callable[[], None]]:
    tariffs = {t: Tariff.model_validate_json(t) for _, t in cases}
    peer_tariffs = {t: peer_models.Tariff.model_validate_json(t) for _, t in cases}
    ours_cases = [(c, tariffs[t]) for c, t in cases]
    peer_cases = [(c, peer_tariffs[t]) for c, t in cases]

    def ours() -> None:
        for text, tariff in ours_cases:
            rate(Cdr.model_validate_json(text), [tariff], options=AMS)

    def peer() -> None:
        for text, tariff in peer_cases:
            calculate_cdr_cost(peer_models.Cdr.model_validate_json(text), tariff)

    return ours, peer


def timed(fn: Callable[[], None], rounds: int) -> float:
    t0 = time.process_time()
    for _ in range(rounds):
        fn()
    return time.process_time() - t0


def compare(label: str, n: int, pair: tuple[Callable[[], None], Callable[[], None]], repeats: int, rounds: int) -> None:
    ours, peer = pair
    mine: list[float] = []
    theirs: list[float] = []
    ratios: list[float] = []
    for _ in range(repeats):
        a = n * rounds / timed(ours, rounds)
        b = n * rounds / timed(peer, rounds)
        mine.append(a)
        theirs.append(b)
        ratios.append(a / b)
    print(f"{label:<34} ours {min(mine):>9,.0f} / {statistics.median(mine):>9,.0f}   "
          f"peer {min(theirs):>9,.0f} / {statistics.median(theirs):>9,.0f}   "
          f"ratio {min(ratios):.2f} / {statistics.median(ratios):.2f}  (target >= 2)")


def sessions(repeats: int) -> None:
    items = _sessions(500)
    rates = []
    for _ in range(repeats):
        t0 = time.process_time()
        for s in items:
            rate(s, [TOU])
        rates.append(len(items) / (time.process_time() - t0))
    print(f"{'raw sessions, 4-element TOU':<34} ours {min(rates):>9,.0f} / {statistics.median(rates):>9,.0f}   "
          f"sessions/s (target >= 30,000)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mix", type=int, default=10_000)
    args = parser.parse_args()
    vec = vectors()
    mix = synthetic(args.mix)
    import connector.rating.engine as engine

    build = "compiled" if not engine.__file__ or not engine.__file__.endswith(".py") else "pure Python"
    print(f"CPU time, {args.repeats} repeats, figures min / median per second (python {sys.version.split()[0]}, "
          f"{build} rating core)")
    compare("reference vectors, pre-parsed", len(vec), ours_parsed(vec), args.repeats, args.rounds * 300)
    compare("reference vectors, from JSON", len(vec), from_json(vec), args.repeats, args.rounds * 150)
    compare(f"synthetic mix {args.mix}, pre-parsed", len(mix), ours_parsed(mix), args.repeats, 1)
    compare(f"synthetic mix {args.mix}, from JSON", len(mix), from_json(mix), args.repeats, 1)
    sessions(args.repeats)


if __name__ == "__main__":
    main()
