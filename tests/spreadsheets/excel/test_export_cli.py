"""``evbill export-workbook`` from a tariff file or a stored tariff id, and its input errors."""

from __future__ import annotations

import csv
import json
from decimal import Decimal

import openpyxl
from sqlalchemy.orm import Session as DbSession

from connector.api import create_tables
from connector.cli import main
from connector.rating import rate
from connector.storage import repo
from connector.storage.db import make_engine
from tests.spreadsheets.excel.data import TOU_TARIFF, make_sessions, tou_tariff


def _csv(path, sessions) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["session_id", "start", "end", "energy_kwh", "time_zone", "customer_class", "station_id"])
        for s in sessions:
            w.writerow([s.id, s.start.isoformat(), s.end.isoformat(), s.energy_kwh, s.time_zone,
                        s.customer_class or "", s.station_id])


def test_export_from_tariff_file(tmp_path, capsys):
    tariff = tou_tariff()
    sessions = make_sessions(12, tariff)
    _csv(tmp_path / "s.csv", sessions)
    (tmp_path / "t.json").write_text(json.dumps(TOU_TARIFF))
    code = main(["export-workbook", "--tariff", str(tmp_path / "t.json"), "--sessions", str(tmp_path / "s.csv"),
                 "--out", str(tmp_path / "b.xlsx")])
    assert code == 0
    gross = sum((rate(s, tariff).invoice.gross_total for s in sessions), Decimal(0))
    assert capsys.readouterr().out.strip().endswith(f"12 sessions, gross {gross} EUR")
    sheet = openpyxl.load_workbook(tmp_path / "b.xlsx")["Sessions"]
    assert [sheet[f"A{r}"].value for r in range(2, 14)] == [s.id for s in sessions]
    assert Decimal(repr(sheet["F2"].value)) == sessions[0].energy_kwh  # a number, not text


def test_export_from_stored_tariff_id(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    create_tables(engine)
    with DbSession(engine) as db:
        repo.create_tariff(db, "t1", tou_tariff())
        db.commit()
    _csv(tmp_path / "s.csv", make_sessions(3, tou_tariff()))
    code = main(["export-workbook", "--tariff-id", "TOU-EUR", "--url", url, "--tenant", "t1",
                 "--sessions", str(tmp_path / "s.csv"), "--out", str(tmp_path / "b.xlsx")])
    assert code == 0 and (tmp_path / "b.xlsx").exists()
    assert "3 sessions" in capsys.readouterr().out
    code = main(["export-workbook", "--tariff-id", "NOPE", "--url", url, "--tenant", "t1",
                 "--sessions", str(tmp_path / "s.csv"), "--out", str(tmp_path / "c.xlsx")])
    assert code == 2
    assert "tariff_id: no tariff 'NOPE'" in capsys.readouterr().err


def test_unsupported_feature_exits_2_naming_it(tmp_path, capsys):
    bad = {**TOU_TARIFF, "max_price": {"excl_vat": "50"}}
    (tmp_path / "t.json").write_text(json.dumps(bad))
    _csv(tmp_path / "s.csv", [])
    code = main(["export-workbook", "--tariff", str(tmp_path / "t.json"), "--sessions", str(tmp_path / "s.csv"),
                 "--out", str(tmp_path / "b.xlsx")])
    assert code == 2
    assert "tariff.max_price: not supported by the workbook formulas" in capsys.readouterr().err
    assert not (tmp_path / "b.xlsx").exists()


def test_bad_session_row_names_the_row(tmp_path, capsys):
    (tmp_path / "t.json").write_text(json.dumps(TOU_TARIFF))
    (tmp_path / "s.csv").write_text("session_id,start,end,energy_kwh\nS-1,yesterday,2026-01-01T10:00:00Z,5\n")
    code = main(["export-workbook", "--tariff", str(tmp_path / "t.json"), "--sessions", str(tmp_path / "s.csv"),
                 "--out", str(tmp_path / "b.xlsx")])
    assert code == 2
    assert "sessions row 2: start" in capsys.readouterr().err


def test_long_exports_print_progress_on_stderr_and_the_result_on_stdout(tmp_path, capsys):
    from tests.spreadsheets.excel.data import random_sessions

    sessions = random_sessions(1000)
    _csv(tmp_path / "s.csv", sessions)
    (tmp_path / "t.json").write_text(json.dumps(TOU_TARIFF))
    code = main(["export-workbook", "--tariff", str(tmp_path / "t.json"), "--sessions", str(tmp_path / "s.csv"),
                 "--out", str(tmp_path / "b.xlsx")])
    out, err = capsys.readouterr()
    assert code == 0 and out.count("\n") == 1 and "1000 sessions, gross" in out
    progress = [line.split(" (")[0] for line in err.splitlines()]
    assert progress == ["export-workbook: 500/1000 sessions rated", "export-workbook: 1000/1000 sessions rated"]
