"""Each benchmark runs briefly and prints its figures: benches are not timed in tests, but a bench
that no longer starts (a removed import, a renamed option) must fail here rather than at release."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.api.pg import fresh_database, pg_available
from tests.paths import REPO


def _run(*argv: str) -> str:
    # shell benches start Python themselves: the interpreter running the tests, whatever is on PATH
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(list(argv), cwd=REPO, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_rate_bench_prints_both_throughputs() -> None:
    out = _run(sys.executable, "bench/rate_bench.py", "--seconds", "0.05")
    assert re.search(r"\(a\) OCPI CDRs \(9 reference vectors\):\s+[\d,]+ CDRs/s", out), out
    assert re.search(r"\(b\) raw sessions.*:\s+[\d,]+ sessions/s \(\d+ rated, 3\.\d priced lines/session\)", out), out


def test_rating_vs_peer_prints_each_figure_with_its_ratio_and_the_build() -> None:
    out = _run(sys.executable, "bench/rating_vs_peer.py", "--repeats", "1", "--rounds", "1", "--mix", "20")
    assert "pure Python rating core" in out, out
    assert len(re.findall(r"ratio \d+\.\d\d / \d+\.\d\d  \(target >= 2\)", out)) == 4, out
    assert re.search(r"raw sessions, 4-element TOU\s+ours\s+[\d,]+ /\s+[\d,]+\s+sessions/s", out), out


def test_batch_scaling_bench_prints_each_path_and_its_ratio() -> None:
    out = _run(sys.executable, "bench/batch_scaling.py", "--sessions", "250", "--repeats", "1")
    paths = re.findall(r"^\((a|b|c)\) .*: 1 proc [\d,]+ / [\d,]+; 2 proc [\d,]+ / [\d,]+ sessions/s .*"
                       r"scaling 1 -> 2: x\d+\.\d\d$", out, re.M)
    assert paths == ["a", "b", "c"], out


def test_reconcile_bench_expected_equals_billed_in_both_modes() -> None:
    out = _run(sys.executable, "bench/reconcile_bench.py", "--sessions", "300", "--repeats", "1",
               "--databases", "sqlite")
    modes = re.findall(r"^(rerate|stored)\s.*: ([\d,]+) sessions, min .* expected (\S+) billed (\S+) paid \S+ EUR; "
                       r"exceptions 0$", out, re.M)
    assert [m[0] for m in modes] == ["stored", "rerate", "rerate"], out
    assert all(expected == billed for _, _, expected, billed in modes), out
    assert modes[0][1] == "300" and modes[1][1:] == modes[2][1:], out
    assert re.search(r"^re-rating scaling 1 -> 2 processes: x\d+\.\d\d$", out, re.M), out


def test_events_list_bench_times_each_type_with_and_without_the_index() -> None:
    out = _run(sys.executable, "bench/events_list.py", "--events", "200", "--rare-every", "100", "--repeats", "1",
               "--calls", "1", "--databases", "sqlite")
    rows = re.findall(r"^sqlite (with index|without index)\s+type=(\S+)\s+(\d) found: min [\d.]+ / median [\d.]+ ms",
                      out, re.M)
    assert [(label, kind) for label, kind, _ in rows] == [
        (label, kind) for label in ("with index", "without index")
        for kind in ("session.rerated", "session.interim", "(any)")], out
    assert [found for _, _, found in rows] == ["2", "4", "4"] * 2, out


def test_ocpp_load_runs_sessions_without_errors() -> None:
    out = _run(sys.executable, "bench/ocpp_load.py", "--stations", "2", "--duration", "1",
               "--samples", "1", "--interval", "0.1")
    found = re.search(r"messages: (\d+) .* sessions: (\d+) .* errors: (\d+)", out)
    assert found, out
    assert int(found[1]) > 0 and int(found[2]) > 0 and found[3] == "0", out


def test_api_load_answers_every_request() -> None:
    out = _run("bash", "bench/api_load.sh", "1", "1", "2")
    rows = re.findall(r"^POST (/v1/rate(?:/batch)?)\b.*errors (\d+)", out, re.M)
    assert [r[0] for r in rows] == ["/v1/rate", "/v1/rate/batch"], out
    assert all(errors == "0" for _, errors in rows), out
    assert "check: one session -> 23.21 EUR" in out, out


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL)")
    with fresh_database() as url:
        yield url


def test_ingest_load_prints_buckets(pg_url: str) -> None:
    out = _run(sys.executable, "bench/ingest_load.py", "--url", pg_url, "--sessions", "40", "--bucket", "20",
               "--clients", "4", "--repeats", "1", "--workers", "1", "--no-pin")
    rows = re.findall(r"^\s+(\d+)-(\d+)\s+\d+ / \d+\s+[\d.]+ / [\d.]+\s+[\d.]+ / [\d.]+[ \t]*$", out, re.M)
    assert [(a, b) for a, b in rows] == [("0", "19"), ("20", "39")], out


def test_scale_out_bills_and_delivers_each_session_once(pg_url: str) -> None:
    out = _run(sys.executable, "bench/scale_out.py", "--url", pg_url, "--sessions", "30", "--clients", "4",
               "--repeats", "1", "--customers", "3")
    assert "30/30 acknowledged" in out and "lost 0, billed twice 0, delivered 30, duplicated deliveries 0" in out, out
    assert "lost or duplicated bills and duplicated deliveries: 0" in out, out


def test_draft_growth_bench_prints_flat_sizes() -> None:
    out = _run(sys.executable, "bench/draft_growth_bench.py", "--sizes", "0,200", "--sessions", "2")
    sizes = re.findall(r"^draft\s+\d+ lines: min .* answer ([\d,]+) B  session.billed ([\d,]+) B$", out, re.M)
    assert len(sizes) == 2, out
    (answer_small, event_small), (answer_big, event_big) = [(int(a.replace(",", "")), int(e.replace(",", "")))
                                                           for a, e in sizes]
    assert abs(answer_big - answer_small) < 100 and abs(event_big - event_small) < 100, out
