"""excel_addin/src/functions.js under ``node --test`` against the real API on 127.0.0.1.

The rows and the expected results (the rating core's, through the shared spreadsheet mapping, and
checked here against direct ``rate()`` calls and hand-computed amounts) go to a file the Node tests read.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connector.models import Session, Tariff
from connector.rating import rate
from connector.spreadsheets.rating import rate_rows
from tests.paths import REPO
from tests.spreadsheets.excel.data import TOU_TARIFF
from tests.spreadsheets.excel.live_api import API_KEY, serve_api

ADDIN = REPO / "excel_addin"
ZONE = "Europe/Berlin"
SERIAL_0302_1800 = (datetime(2026, 3, 2, 18) - datetime(1899, 12, 30)) / timedelta(days=1)  # 46083.75
ROWS: list[list[Any]] = [
    [10, 60, "2026-01-13T14:00", "TOU-EUR"],                      # day: 4.50 + 1.20 + 0.35 = 6.05 + 1.15 VAT
    [12.5, 45, SERIAL_0302_1800, "TOU-EUR", "fleet"],             # Excel date serial, peak band
    ["", "", "", ""],                                             # blank row
    [-1, 60, "2026-01-13T14:00", "TOU-EUR"],                      # bad row
    [7.25, 95, "2026-01-13T23:30", "TOU-EUR"],                    # night, 100 Wh steps
    [10, 60, "2026-01-13T14:00", "NOPE"],                         # unknown tariff
    [10, 60, "2026-01-13T16:30", "TOU-EUR"],                      # across the 17:00 peak switch
]


def _direct_gross(row: list[Any]) -> Decimal:
    """The core called directly (not through the shared mapping) for a valid row."""
    start = row[2]
    wall = (datetime(1899, 12, 30) + timedelta(days=start) if isinstance(start, float)
            else datetime.fromisoformat(start))
    begin = wall.replace(tzinfo=ZoneInfo(ZONE))
    session = Session(id="x", start=begin, end=begin + timedelta(minutes=row[1]), energy_kwh=Decimal(str(row[0])),
                      time_zone=ZONE)
    return rate(session, Tariff.model_validate(TOU_TARIFF)).invoice.gross_total


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_excel_custom_functions_equal_the_core(tmp_path: Path) -> None:
    tariffs = [Tariff.model_validate(TOU_TARIFF)]
    expected = [r.to_dict() for r in rate_rows(ROWS, lambda i: tariffs if i == "TOU-EUR" else None, ZONE)]
    costs = [r.get("cost_incl_tax") for r in expected]
    # 12.5 x 0.55 = 6.875 -> 6.88, 0.75 h x 1.20 = 0.90, fee 0.35: 8.13 net + 1.54 VAT
    assert costs[:3] == ["7.20", "9.67", None] and costs[5] is None
    assert expected[3]["error"].startswith("#ERROR: kwh: ")
    for row, result in zip(ROWS, expected, strict=True):
        if result.get("cost_incl_tax"):
            assert Decimal(result["cost_incl_tax"]) == _direct_gross(row)
    path = tmp_path / "expected.json"
    path.write_text(json.dumps({"zone": ZONE, "rows": ROWS, "results": expected}))
    with serve_api(tmp_path, [TOU_TARIFF]) as (url, token):
        env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "EVBILL_API_URL": url, "EVBILL_API_KEY": API_KEY,
               "EVBILL_TOKEN": token, "EVBILL_EXPECTED": str(path)}
        done = subprocess.run(["node", "--test", "test/functions.test.js"], cwd=ADDIN, env=env,
                              capture_output=True, text=True, timeout=240)
    out = done.stdout + done.stderr
    counts = {k: int(v) for k, v in re.findall(r"^# (pass|fail|skipped|cancelled) (\d+)$", out, re.M)}
    assert done.returncode == 0, out[-6000:]
    assert counts == {"pass": 15, "fail": 0, "skipped": 0, "cancelled": 0}, out[-3000:]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_tests_fail_without_the_api() -> None:
    """The Node tests that need the API cannot pass vacuously when run on their own."""
    done = subprocess.run(["node", "--test", "test/functions.test.js"], cwd=ADDIN, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin:/usr/local/bin"})
    assert done.returncode != 0
    assert re.search(r"^# fail [1-9]", done.stdout, re.M), done.stdout[-2000:]
