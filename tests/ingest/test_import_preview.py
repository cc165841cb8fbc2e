"""`evbill import --dry-run`: the Shell Recharge preset is a user-editable mapping, checked by a preview."""

from __future__ import annotations

import json
from pathlib import Path

from connector.cli import main

# an export whose header differs from the preset: an extra column, one renamed ("Energy kWh")
EXPORT = (
    "Session ID,Start Time,End Time,Energy kWh,Station ID,Port,Site ID,Driver ID,Currency,Time Zone,Idle Fee\n"
    "GL-1,2026-11-24T10:00:00Z,2026-11-24T10:30:00Z,18.2,ST-1,1,SITE-A,D-7,EUR,Europe/Amsterdam,0.50\n"
    "GL-2,2026-11-24T11:00:00Z,2026-11-24T12:00:00Z,10,ST-1,2,SITE-A,,EUR,Europe/Amsterdam,0\n"
    "GL-3,2026-11-24T13:00:00Z,2026-11-24T12:00:00Z,5,ST-2,1,SITE-A,,EUR,UTC,0\n"
)


def test_dry_run_shows_mapped_rows_unmapped_and_missing_columns(tmp_path: Path, capsys, monkeypatch) -> None:
    export = tmp_path / "shell.csv"
    export.write_text(EXPORT, encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/untouched.db")
    assert main(["import", str(export), "--mapping", "shell_recharge", "--dry-run", "--preview-rows", "2"]) == 1
    preview = json.loads(capsys.readouterr().out)
    assert preview["rows_in_file"] == 3 and [r["row"] for r in preview["preview"]] == [2, 3]
    assert preview["missing_columns"] == ["Energy (kWh)"]
    assert preview["unmapped_columns"] == ["Energy kWh", "Idle Fee"]
    first = preview["preview"][0]
    assert first["columns"]["session_id"] == "GL-1" and first["columns"]["customer_id"] == "D-7"
    assert first["session"]["session_id"] == "GL-1" and first["session"]["station_id"] == "ST-1"
    assert "energy_kwh" not in first["session"]  # its column is missing: visible before any import
    assert not (tmp_path / "untouched.db").exists()  # nothing stored

    # the user edits a copy of the preset; the preview then maps every row it shows and refuses row 4 by name
    mapping = tmp_path / "my-shell.yaml"
    preset = (Path(__file__).parents[2] / "connector/ingest/mappings/shell_recharge.yaml").read_text()
    mapping.write_text(preset.replace("energy_kwh: Energy (kWh)", "energy_kwh: Energy kWh"), encoding="utf-8")
    assert main(["import", str(export), "--mapping", str(mapping), "--dry-run"]) == 1
    edited = json.loads(capsys.readouterr().out)
    assert edited["missing_columns"] == [] and edited["unmapped_columns"] == ["Idle Fee"]
    assert edited["preview"][0]["session"]["energy_kwh"] == "18.2"
    assert (edited["preview"][2]["error"]["field"], edited["preview"][2]["error"]["reason"]) == ("session.end", "must not be before start")
    ok = tmp_path / "ok.csv"
    ok.write_text("\n".join(EXPORT.splitlines()[:3]) + "\n", encoding="utf-8")
    assert main(["import", str(ok), "--mapping", str(mapping), "--dry-run"]) == 0


def test_dry_run_bad_arguments(tmp_path: Path, capsys) -> None:
    export = tmp_path / "shell.csv"
    export.write_text(EXPORT, encoding="utf-8")
    assert main(["import", str(export), "--mapping", "shell_recharge", "--dry-run", "--preview-rows", "0"]) == 2
    assert "preview-rows: at least 1" in capsys.readouterr().err
    broken = tmp_path / "latin1.csv"
    broken.write_bytes("Session ID\nGL-\xe9\n".encode("latin-1"))
    assert main(["import", str(broken), "--mapping", "shell_recharge", "--dry-run"]) == 1
    assert "can't decode byte 0xe9" in json.loads(capsys.readouterr().out)["error"]
