"""The same 200 sessions give identical totals through every face: the rating core, the API
(POST /v1/rate/sheet), the Google Sheets functions and the Excel JS functions (both under Node), the
xlwings UDFs, and the exported workbook recalculated by LibreOffice.

Per-row amounts are compared too (a total can hide two opposite errors). Spreadsheet numbers are read
back as JSON numbers straight into Decimal (``parse_float=Decimal``), so no float arithmetic is involved.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import requests

from connector.models import Session
from connector.rating import rate
from connector.spreadsheets.workbook import export_workbook
from connector.spreadsheets.workbook import layout as WB
from tests.paths import REPO
from tests.spreadsheets.excel.data import TOU_TARIFF, make_sessions, tou_tariff
from tests.spreadsheets.excel.layout_read import gross_column
from tests.spreadsheets.excel.live_api import API_KEY, serve_api
from tests.spreadsheets.excel.lo_recalc import recalc

ZONE = "Europe/Berlin"
COUNT = 200
# The core's totals for these 200 sessions (tests/spreadsheets/excel/data.py, seed 61, whole minutes), pinned so that
# a change in any face or in the data shows up as a number, not only as "the faces still agree".
GROSS_TOTAL = Decimal("4180.85")
TAX_TOTAL = Decimal("667.47")


def _wall(session: Session) -> str:
    return session.start.astimezone(ZoneInfo(ZONE)).replace(tzinfo=None).isoformat(timespec="minutes")


def _round_trips(session: Session) -> bool:
    """The wall-clock text names exactly this instant (not a DST gap or a repeated hour)."""
    wall = datetime.fromisoformat(_wall(session))
    first, second = wall.replace(tzinfo=ZoneInfo(ZONE)), wall.replace(tzinfo=ZoneInfo(ZONE), fold=1)
    return first == session.start and first.utcoffset() == second.utcoffset()


def sessions_and_rows() -> tuple[list[Session], list[list[Any]]]:
    tariff = tou_tariff()
    sessions = [s for s in make_sessions(COUNT + 40, tariff, time_zone=ZONE, seed=61, whole_minutes=True)
                if _round_trips(s)][:COUNT]
    assert len(sessions) == COUNT
    rows = []
    for s in sessions:
        minutes = int((s.end - s.start) / timedelta(minutes=1))
        assert s.start + timedelta(minutes=minutes) == s.end
        rows.append([float(s.energy_kwh), minutes, _wall(s), "TOU-EUR", s.customer_class or ""])
    return sessions, rows


def _load_udfs() -> Any:
    spec = importlib.util.spec_from_file_location("evbill_udfs_cross", REPO / "excel_addin" / "udfs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _number(value: Any) -> Any:
    """A JSON number as Decimal (whole amounts arrive as int); anything else (an #ERROR text) unchanged."""
    return Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _total(values: list[Any]) -> Decimal:
    assert all(isinstance(v, Decimal) for v in values), [v for v in values if not isinstance(v, Decimal)][:3]
    return sum(values, Decimal(0))


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_two_hundred_sessions_same_totals_through_every_face(tmp_path: Path, monkeypatch) -> None:
    sessions, rows = sessions_and_rows()
    tariff = tou_tariff()

    # 1. the core
    core = [rate(s, tariff).invoice for s in sessions]
    gross = {"core": [inv.gross_total for inv in core]}
    tax = {"core": [inv.tax_total for inv in core]}

    with serve_api(tmp_path, [TOU_TARIFF]) as (url, _token):
        # 2. the API
        answer = requests.post(f"{url}/v1/rate/sheet", json={"rows": rows, "time_zone": ZONE},
                               headers={"X-API-Key": API_KEY}, timeout=60)
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert all(r["ok"] for r in results), [r for r in results if not r["ok"]][:3]
        gross["api"] = [Decimal(r["cost_incl_tax"]) for r in results]
        tax["api"] = [Decimal(r["tax"]) for r in results]
        # 3. + 4. Google Sheets and Excel custom functions under Node
        spec = tmp_path / "faces.json"
        spec.write_text(json.dumps({"apiUrl": url, "apiKey": API_KEY, "zone": ZONE, "rows": rows}))
        done = subprocess.run(["node", str(REPO / "tests" / "cross_face" / "faces.js"), str(spec)],
                              capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin:/usr/local/bin"})
        assert done.returncode == 0, done.stderr[-3000:]
        node = json.loads(done.stdout, parse_float=Decimal)
    for face in ("sheets", "excel"):
        assert node[face]["requests"] <= 2, f"{face}: a range must be rated in one request per function"
        gross[face] = [_number(v) for v in node[face]["cost"]]
        tax[face] = [_number(v) for v in node[face]["tax"]]

    # 5. xlwings UDFs (in-process): the plain Decimal functions and the decorated Excel-facing ones
    folder = tmp_path / "tariffs"
    folder.mkdir()
    (folder / "TOU-EUR.json").write_text(json.dumps(TOU_TARIFF))
    monkeypatch.setenv("EVBILL_TARIFF_DIR", str(folder))
    monkeypatch.setenv("EVBILL_DEFAULT_TIME_ZONE", ZONE)
    udfs = _load_udfs()
    columns = [[[r[i]] for r in rows] for i in range(5)]
    gross["xlwings"] = [c[0] for c in udfs.cost(*columns)]
    tax["xlwings"] = [c[0] for c in udfs.tax(*columns)]
    gross["xlwings_cells"] = [Decimal(repr(c[0])) for c in udfs.EVBILL_COST(*columns)]

    # 6. the workbook, recalculated by LibreOffice
    result = export_workbook(tariff, sessions, tmp_path / "book.xlsx")
    (recalculated,) = recalc([result.path], tmp_path)
    book = openpyxl.load_workbook(recalculated, data_only=True)
    gross["workbook"] = gross_column(book, COUNT)
    tax["workbook"] = [Decimal(repr(book[WB.SESSIONS_SHEET][f"{WB.COLUMN['VAT']}{r}"].value))
                       for r in range(2, COUNT + 2)]
    workbook_total = Decimal(repr(book[WB.SUMMARY_SHEET]["B6"].value))

    totals = {face: _total(values) for face, values in gross.items()}
    tax_totals = {face: _total(values) for face, values in tax.items()}
    assert len(set(totals.values())) == 1, totals
    assert len(set(tax_totals.values())) == 1, tax_totals
    assert workbook_total == totals["core"]
    for face, values in gross.items():
        assert values == gross["core"], f"{face}: first differing row {next(i for i, (a, b) in enumerate(zip(values, gross['core'], strict=True)) if a != b)}"
    for face, values in tax.items():
        assert values == tax["core"], face
    assert (totals["core"], tax_totals["core"]) == (GROSS_TOTAL, TAX_TOTAL)
