"""xlwings UDFs (excel_addin/udfs.py) on Linux: same results as the add-ins, decorators applied, no licence."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy.orm import Session as DbSession

from connector.api import create_tables
from connector.models import Tariff
from connector.spreadsheets.rating import rate_rows
from connector.storage import repo
from connector.storage.db import make_engine
from tests.paths import REPO
from tests.spreadsheets.excel.data import TOU_TARIFF
from tests.spreadsheets.excel.test_addin_node import ROWS, ZONE

UDFS = REPO / "excel_addin" / "udfs.py"
TARIFFS = [Tariff.model_validate(TOU_TARIFF)]


def load_udfs(name: str = "evbill_udfs") -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, UDFS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def udfs() -> ModuleType:
    return load_udfs()


@pytest.fixture(autouse=True)
def zone(monkeypatch):
    monkeypatch.setenv("EVBILL_DEFAULT_TIME_ZONE", ZONE)


def lookup(tariff_id: str) -> list[Tariff] | None:
    return TARIFFS if tariff_id == "TOU-EUR" else None


def columns(rows: list[list[Any]]) -> list[list[list[Any]]]:
    return [[[r[i] if i < len(r) else None] for r in rows] for i in range(5)]


def test_a_range_gives_the_cores_decimals_blanks_and_errors(udfs):
    got = udfs.cost(*columns(ROWS), lookup=lookup)
    want = [r.to_dict() for r in rate_rows(ROWS, lookup, ZONE)]
    assert got[:3] == [[Decimal("7.20")], [Decimal("9.67")], [""]]
    assert got[3][0].startswith("#ERROR: kwh: ") and got[5] == ["#ERROR: tariff_id: tariff 'NOPE' does not exist"]
    assert [c[0] for c in got] == [
        "" if w.get("blank") else (Decimal(w["cost_incl_tax"]) if w["ok"] else w["error"]) for w in want]
    taxes = udfs.tax(*columns(ROWS), lookup=lookup)
    assert taxes[0] == [Decimal("1.15")] and taxes[1] == [Decimal("1.54")]


def test_lines_table_matches_the_invoice_lines(udfs):
    table = udfs.lines(*columns(ROWS), lookup=lookup)
    assert table[0] == ["row", "category", "description", "quantity", "unit", "unit_price", "net", "tax", "gross"]
    first = [row for row in table[1:] if row[0] == 1]
    assert [(r[1], r[6], r[7], r[8]) for r in first] == [
        ("fixed", Decimal("0.35"), Decimal("0.07"), Decimal("0.42")),
        ("energy", Decimal("4.50"), Decimal("0.85"), Decimal("5.35")),
        ("time", Decimal("1.20"), Decimal("0.23"), Decimal("1.43")),
    ]
    across = [(r[2], r[6]) for r in table[1:] if r[0] == 7]  # 16:30-17:30: half day, half peak price
    assert across == [("Session fee @ 0.35 EUR/session", Decimal("0.35")), ("Energy @ 0.45 EUR/kWh", Decimal("2.25")),
                      ("Charging time @ 1.20 EUR/h", Decimal("1.20")), ("Energy @ 0.55 EUR/kWh", Decimal("2.75"))]
    assert sum(r[8] for r in first) == Decimal("7.20")
    assert [r[0] for r in table[1:] if isinstance(r[1], str) and r[1].startswith("#ERROR")] == [4, 6]


def test_decorated_udfs_return_excel_numbers_and_take_datetime_cells(udfs, tmp_path, monkeypatch):
    (tmp_path / "TOU-EUR.json").write_text(json.dumps(TOU_TARIFF))
    monkeypatch.setenv("EVBILL_TARIFF_DIR", str(tmp_path))
    # xlwings hands a date cell over as a naive datetime (the wall clock the cell shows)
    value = udfs.EVBILL_COST([[10]], [[60]], [[datetime(2026, 1, 13, 14, 0)]], [["TOU-EUR"]])
    assert value == [[7.2]] and Decimal(repr(value[0][0])) == Decimal("7.20")
    assert udfs.EVBILL_TAX(10, 60, "2026-01-13T14:00", "TOU-EUR") == [[1.15]]
    assert udfs.EVBILL_COST(10, 60, "2026-01-13T14:00", "../TOU-EUR") == [
        ["#ERROR: tariff_id: tariff '../TOU-EUR' does not exist"]]
    spilled = udfs.EVBILL_LINES(10, 60, "2026-01-13T14:00", "TOU-EUR")
    assert len(spilled) == 4 and sum(r[8] for r in spilled[1:]) == pytest.approx(7.2)
    assert udfs.EVBILL_COST([[1], [2]], [[60], [60], [60]], 46035.5, "TOU-EUR") == [
        ["#ERROR: minutes: the range has 3 cells but an earlier range has 2"]]


def test_tariffs_from_the_connector_database(udfs, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    create_tables(engine)
    with DbSession(engine) as db:
        repo.create_tariff(db, "t9", TARIFFS[0])
        db.commit()
    monkeypatch.delenv("EVBILL_TARIFF_DIR", raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("EVBILL_TENANT", "t9")
    assert udfs.EVBILL_COST(12.5, 45, "2026-03-02T18:00", "TOU-EUR", "fleet") == [[9.67]]
    monkeypatch.setenv("EVBILL_TENANT", "other")
    assert udfs.EVBILL_COST(12.5, 45, "2026-03-02T18:00", "TOU-EUR") == [
        ["#ERROR: tariff_id: tariff 'TOU-EUR' does not exist"]]


def test_xlwings_decorators_are_applied(monkeypatch):
    """On Linux xw.func/arg/ret are identity functions, so record what the module asks of them."""
    import xlwings

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def recorder(kind: str):
        def decorator(*args: Any, **kwargs: Any):
            calls.append((kind, args, kwargs))

            def inner(fn):
                fn.__dict__.setdefault("xl", []).append(kind)
                return fn
            return inner
        return decorator

    for kind in ("func", "arg", "ret"):
        monkeypatch.setattr(xlwings, kind, recorder(kind))
    module = load_udfs("evbill_udfs_recorded")
    for name in ("EVBILL_COST", "EVBILL_TAX", "EVBILL_LINES"):
        assert getattr(module, name).xl == ["arg"] * 5 + ["ret", "func"], name
    args = [c for c in calls if c[0] == "arg"]
    assert sorted({a[1][0] for a in args}) == ["customer_class", "kwh", "minutes", "start", "tariff_id"]
    assert all(a[2]["ndim"] == 2 for a in args)
    assert [c[2] for c in calls if c[0] == "ret"] == [{"expand": "table"}] * 3
    assert [c[2] for c in calls if c[0] == "func"] == [{"category": "EV billing"}] * 3


def test_imports_without_a_licence_key_and_without_xlwings_server():
    code = ("import importlib.util, sys; s = importlib.util.spec_from_file_location('u', sys.argv[1]); "
            "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); "
            "import xlwings; print(xlwings.__pro__, sorted(k for k in sys.modules if k.startswith('xlwings.server')))")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(UDFS.parents[1])}
    done = subprocess.run([sys.executable, "-c", code, str(UDFS)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False []"  # PRO not activated, xlwings Server never imported
    source = UDFS.read_text(encoding="utf-8")
    assert "xlwings.server" not in source.replace("no xlwings Server", "") and "LICENSE_KEY" not in source
