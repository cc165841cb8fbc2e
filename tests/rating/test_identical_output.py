"""Speed never changes a result: every case of the fixed corpus rates to the recorded output, byte for byte."""

from __future__ import annotations

import json

from tests.rating.corpus.cases import EXPECTED, cases, digest, outcome


def test_corpus_rates_identically_to_the_recorded_engine() -> None:
    expected: dict[str, str] = json.loads(EXPECTED.read_text())
    got = {name: digest(outcome(run)) for name, run in cases()}
    assert got.keys() == expected.keys()
    changed = sorted(name for name in got if got[name] != expected[name])
    assert not changed, f"{len(changed)} of {len(got)} cases rate differently, e.g. {changed[:5]}"


def test_the_corpus_covers_vectors_cdrs_sessions_and_refusals() -> None:
    names = [name for name, _ in cases()]
    assert len(names) == len(set(names)) > 4000
    assert sum(name.startswith("vector/") for name in names) >= 9 * 3 * 3  # 9 CDRs x 3 zones x 3 policies
    assert sum(name.startswith("cdr/") for name in names) >= 1000
    assert sum(name.startswith("session/") for name in names) >= 2000
    refused = [name for name, run in cases() if name.startswith("cdr/1") and outcome(run).startswith("refused")]
    assert refused
