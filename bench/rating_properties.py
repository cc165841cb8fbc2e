"""The long run of the rating property suite (tests/rating/properties): many random examples per property.

Run: python3 bench/rating_properties.py [--examples 12000] [--only "caps"] [--seed N]. The CI runs the same
checks with 100 derandomized examples each (tests/rating/properties/test_properties.py); this run draws fresh
random examples (seeded: the seed is printed, a failure can be replayed with --seed) and prints, per property,
the examples run (calls of the check, shrinking included) and the seconds taken, then the totals. Exit 1 with the falsifying example when one fails.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package, run from anywhere

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tests.rating.properties.checks import PROPERTIES  # noqa: E402


def _counting(check: Callable[[Any], None], calls: list[int]) -> Callable[[Any], None]:
    def counted(case: Any) -> None:
        calls[0] += 1
        check(case)

    return counted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=12000, help="examples per property (default 12000)")
    parser.add_argument("--only", default="", help="run the properties whose name contains one of these "
                                                  "comma-separated words")
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: a fresh seed)")
    args = parser.parse_args(argv)
    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed {run_seed}, {args.examples} examples per property", flush=True)
    total, started, failed = 0, time.perf_counter(), 0
    for name, strategy, check in PROPERTIES:
        if not any(word in name for word in args.only.split(",")):
            continue
        calls = [0]
        counted = _counting(check, calls)
        test = seed(run_seed)(settings(max_examples=args.examples, deadline=None, database=None,
                                       suppress_health_check=list(HealthCheck))(given(strategy)(counted)))
        t0 = time.perf_counter()
        try:
            test()
            status = "ok"
        except Exception as exc:  # noqa: BLE001 - report every property, then fail the run
            status, failed = f"FAILED: {exc}", failed + 1
            for note in getattr(exc, "__notes__", []):
                print(note, flush=True)
        total += calls[0]
        print(f"{name:32s} {calls[0]:7d} examples {time.perf_counter() - t0:8.1f} s  {status}", flush=True)
    print(f"{'all':32s} {total:7d} examples {time.perf_counter() - started:8.1f} s  "
          f"{'ok' if not failed else f'{failed} failed'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
