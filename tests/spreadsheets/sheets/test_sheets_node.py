"""The Apps Script code (sheets/src/Code.gs) under ``node --test`` against the real API on 127.0.0.1.

The rows and the rating core's results for them are written to a file the Node tests read; they assert
every cell value equals the core's (and a few exact amounts of their own).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from connector.models import Tariff
from connector.spreadsheets.rating import rate_rows
from tests.spreadsheets.sheets.conftest import KEY_A, TOU
from tests.platforms.fakes.server import serve
from tests.paths import REPO

SHEETS = REPO / "sheets"
ZONE = "Europe/Berlin"
ROWS: list[list[Any]] = [
    [10, 60, "2026-01-13T14:00", "T-TOU"],             # peak
    [10, 60, "2026-01-13T07:30", "T-TOU"],             # across the 08:00 switch
    ["", "", "", "T-TOU"],                             # blank row, tariff filled down
    [12.5, 45, 46035.583333333336, "T-TOU", "fleet"],  # serial date, fleet price
    [-1, 60, "2026-01-13T14:00", "T-TOU"],             # a bad row
    [7.25, 95, "2026-03-29T01:30", "T-TOU"],           # over the DST switch
    [10, 60, "2026-01-13T14:00", "T-NONE"],            # unknown tariff
]


class FlakyOnce:
    """WSGI wrapper: the first POST /v1/rate/sheet answers 503 (Retry-After: 1), later ones reach the API."""

    def __init__(self, app: Any) -> None:
        self.app, self.failed = app, False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not self.failed and environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/v1/rate/sheet":
            self.failed = True
            start_response("503 Service Unavailable", [("Content-Type", "application/problem+json"),
                                                        ("Retry-After", "1")])
            return [b'{"type": "about:blank", "title": "Service Unavailable", "status": 503}']
        return self.app(environ, start_response)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_apps_script_functions_equal_the_core(app: Any, tmp_path: Path) -> None:
    tariffs = [Tariff.model_validate(TOU)]
    expected = [r.to_dict() for r in rate_rows(ROWS, lambda i: tariffs if i == "T-TOU" else None, ZONE)]
    assert [r.get("cost_incl_tax") for r in expected] == ["4.76", "3.57", None, "3.72", None, "1.73", None]
    path = tmp_path / "expected.json"
    path.write_text(json.dumps({"zone": ZONE, "rows": ROWS, "results": expected}))
    with serve(app) as url, serve(FlakyOnce(app)) as flaky_url:
        env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "EVBILL_API_URL": url, "EVBILL_API_KEY": KEY_A,
               "EVBILL_EXPECTED": str(path), "EVBILL_FLAKY_URL": flaky_url}
        done = subprocess.run(["node", "--test", "test/code.test.js", "test/meta.test.js"], cwd=SHEETS, env=env,
                              capture_output=True, text=True, timeout=240)
    out = done.stdout + done.stderr
    counts = {k: int(v) for k, v in re.findall(r"^# (pass|fail|skipped|cancelled) (\d+)$", out, re.M)}
    assert done.returncode == 0, out[-6000:]
    assert counts == {"pass": 14, "fail": 0, "skipped": 0, "cancelled": 0}, out[-3000:]
