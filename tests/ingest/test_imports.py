"""Generic CSV/JSON import (CLI + API) and the Shell Recharge drop-directory watcher."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from connector.cli import main
from connector.ingest.tabular import import_content, load_mapping
from connector.ingest.watch import scan_once, watch
from tests.ingest.conftest import FLAT_TARIFF
from tests.ingest.probe import billed, stored
from tests.paths import REPO

SHELL_CSV = (
    "Session ID,Start Time,End Time,Energy (kWh),Station ID,Port,Site ID,Driver ID,Currency,Time Zone\n"
    "GL-1,2026-11-24T10:00:00Z,2026-11-24T10:30:00Z,18.2,ST-1,1,SITE-A,,EUR,Europe/Amsterdam\n"
    "GL-2,2026-11-24T11:00:00Z,2026-11-24T12:00:00Z,abc,ST-1,2,SITE-A,,EUR,Europe/Amsterdam\n"
    "GL-3,2026-11-24T13:00:00Z,2026-11-24T12:00:00Z,5,ST-2,1,SITE-A,,EUR,Europe/Amsterdam\n"
    "GL-4,2026-11-24T14:00:00Z,2026-11-24T15:00:00Z,10,ST-2,1,SITE-A,,EUR,Mars/Base\n"
    ",2026-11-24T14:00:00Z,2026-11-24T15:00:00Z,10,ST-2,1,SITE-A,,EUR,UTC\n"
    "GL-5,2026-11-24T16:00:00Z,2026-11-24T17:00:00Z,10,ST-3,1,SITE-B,,EUR,UTC\n"
)


def test_shell_preset_rows_priced_and_rejections_named(flat_sink) -> None:
    report = import_content("export.csv", SHELL_CSV.encode(), load_mapping("shell_recharge"), flat_sink, "t1")
    assert (report.rows, report.accepted, report.duplicates) == (6, 2, 0)
    assert [(r.row, r.field) for r in report.rejected] == [
        (3, "Energy (kWh)"), (4, "session.end"), (5, "session.time_zone"), (6, "Session ID")]
    assert report.rejected[0].reason == "'abc' is not a number"
    assert "before start" in report.rejected[1].reason
    assert billed(flat_sink, "t1", "GL-1")["amount_due"] == "6.50"
    assert billed(flat_sink, "t1", "GL-5")["amount_due"] == "3.57"
    # the same export again (overlapping drop): nothing billed twice
    again = import_content("export.csv", SHELL_CSV.encode(), load_mapping("shell_recharge"), flat_sink, "t1")
    assert (again.accepted, again.duplicates) == (0, 2)


def test_json_mapping_with_local_times_decimal_comma_and_wh(flat_sink) -> None:
    mapping = load_mapping({
        "source": "acme", "records": "data.sessions", "time_zone": "Europe/Berlin",
        "datetime_format": "%d.%m.%Y %H:%M", "decimal_comma": True, "energy_unit": "Wh",
        "fields": {"session_id": "id", "start": "times.from", "end": "times.to", "energy_kwh": "meter.wh",
                   "station_id": "cp"},
        "defaults": {"currency": "EUR", "time_zone": "Europe/Berlin"},
    })
    doc = {"data": {"sessions": [
        {"id": "A1", "times": {"from": "24.11.2026 11:00", "to": "24.11.2026 11:30"}, "meter": {"wh": "18.200,0"},
         "cp": "X"},
        {"id": "A2", "times": {"from": "24/11/2026", "to": "24.11.2026 11:30"}, "meter": {"wh": "1"}},
    ]}}
    report = import_content("acme.json", json.dumps(doc).encode(), mapping, flat_sink, "t1")
    assert report.accepted == 1
    assert [(r.row, r.field) for r in report.rejected] == [(2, "times.from")]
    session = stored(flat_sink, "t1", "A1")
    assert session["start"] == "2026-11-24T11:00:00+01:00" and session["energy_kwh"] == "18.2"
    assert billed(flat_sink, "t1", "A1")["amount_due"] == "6.50"


def test_bad_mapping_and_header_are_named(flat_sink) -> None:
    from connector.models.session_event import IngestError

    with pytest.raises(IngestError) as exc:
        load_mapping({"fields": {"session_id": "id"}})
    assert exc.value.field == "mapping.fields" and "start, end" in exc.value.reason
    report = import_content("x.csv", b"a,b\n1,2\n", load_mapping("shell_recharge"), flat_sink, "t1")
    assert report.rejected[0].field == "header" and "Session ID" in report.rejected[0].reason


def test_cli_import_dry_run(tmp_path: Path, capsys) -> None:
    export = tmp_path / "export.csv"
    export.write_text(SHELL_CSV, encoding="utf-8")
    tariff = tmp_path / "tariff.json"
    tariff.write_text(json.dumps(FLAT_TARIFF), encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    code = main(["import", str(export), "--mapping", "shell_recharge", "--dry-run-tariff", str(tariff),
                 "--rejects", str(rejects)])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["accepted"] == 2 and len(out["rejected"]) == 4
    assert rejects.read_text().splitlines()[1] == "export.csv,3,Energy (kWh),'abc' is not a number"
    assert main(["import", str(tmp_path / "nope.csv"), "--mapping", "shell_recharge"]) == 2


def test_cli_import_of_thousands_of_rows_prints_progress_on_stderr(tmp_path: Path, capsys) -> None:
    header, good = SHELL_CSV.splitlines()[:2]
    rows = [good.replace("GL-1", f"GL-{i}") for i in range(2500)]
    export = tmp_path / "big.csv"
    export.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    tariff = tmp_path / "tariff.json"
    tariff.write_text(json.dumps(FLAT_TARIFF), encoding="utf-8")
    assert main(["import", str(export), "--mapping", "shell_recharge", "--dry-run-tariff", str(tariff)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["accepted"] == 2500  # stdout stays the one JSON summary
    assert [line.split(" (")[0] for line in err.splitlines()] == ["import: 1000 rows read", "import: 2000 rows read"]


def test_watch_moves_files_and_writes_reports(tmp_path: Path, flat_sink) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "day1.csv").write_text(SHELL_CSV, encoding="utf-8")
    (drop / "day1-copy.csv").write_text(SHELL_CSV, encoding="utf-8")
    (drop / "upload.csv.part").write_text("partial", encoding="utf-8")
    fresh = drop / "late.csv"
    fresh.write_text(SHELL_CSV, encoding="utf-8")
    os.utime(drop / "day1.csv", (time.time() - 60, time.time() - 60))
    os.utime(drop / "day1-copy.csv", (time.time() - 60, time.time() - 60))
    reports = scan_once(drop, load_mapping("shell_recharge"), flat_sink, "t1", settle=30)
    assert [r.file for r in reports] == ["day1-copy.csv", "day1.csv"]
    assert [(r.accepted, r.duplicates) for r in reports] == [(2, 0), (0, 2)]
    assert sorted(p.name for p in (drop / "done").iterdir()) == ["day1-copy.csv", "day1.csv"]
    assert (drop / "late.csv").exists() and (drop / "upload.csv.part").exists()  # still being written
    rejects = (drop / "reports" / "day1.csv.rejects.csv").read_text().splitlines()
    assert rejects[0] == "file,row,field,reason" and len(rejects) == 5
    # a later pass (interval loop) picks up the settled file; a re-dropped name does not overwrite done/
    (drop / "day1.csv").write_text(SHELL_CSV, encoding="utf-8")
    seen = []
    watch(drop, load_mapping("shell_recharge"), flat_sink, "t1", interval=0.01, settle=0, passes=2,
          on_report=seen.append)
    assert sorted(r.file for r in seen) == ["day1.csv", "late.csv"]
    assert len(list((drop / "done").iterdir())) == 4


def test_api_import_multipart_and_json(ingest_app, flat_sink) -> None:
    client = ingest_app.test_client()
    mapping = (REPO / "connector/ingest/mappings/shell_recharge.yaml").read_text()
    res = client.post("/v1/imports", data={"file": (io.BytesIO(SHELL_CSV.encode()), "export.csv"),
                                           "mapping": mapping}, content_type="multipart/form-data")
    assert res.status_code == 200
    assert res.json["accepted"] == 2 and res.json["rejected"][0] == {
        "file": "export.csv", "row": 3, "field": "Energy (kWh)", "reason": "'abc' is not a number"}
    res = client.post("/v1/imports", json={"filename": "e.csv", "content": SHELL_CSV, "preset": "shell_recharge"})
    assert res.json["duplicates"] == 2
    bad = client.post("/v1/imports", json={"content": SHELL_CSV})
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"
    assert bad.json["errors"][0]["field"] == "mapping"


def test_cli_import_watch_once_into_database(tmp_path: Path, capsys) -> None:
    from connector.billing.intake import DatabaseSink
    from tests.ingest.probe import billed as billed_in

    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "export.csv").write_text(SHELL_CSV, encoding="utf-8")
    tariff = tmp_path / "tariff.json"
    tariff.write_text(json.dumps(FLAT_TARIFF), encoding="utf-8")
    url = f"sqlite:///{tmp_path}/evbill.db"
    args = ["import-watch", str(drop), "--once", "--settle", "0", "--database-url", url, "--tariff", str(tariff)]
    assert main(args) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (line["file"], line["accepted"], len(line["rejected"])) == ("export.csv", 2, 4)
    assert (drop / "done" / "export.csv").exists()
    assert billed_in(DatabaseSink.from_url(url), "default", "GL-1")["amount_due"] == "6.50"
    assert main(["import-watch", str(tmp_path / "missing")]) == 2


def test_cli_import_watch_refuses_a_file_over_the_batch_limit(tmp_path: Path, capsys, monkeypatch) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "big.csv").write_text(SHELL_CSV + "x" * 4096, encoding="utf-8")
    (drop / "small.csv").write_text(SHELL_CSV, encoding="utf-8")
    monkeypatch.setenv("EVBILL_MAX_BODY_BYTES", "4096")
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self.name} read whole"))
    args = ["import-watch", str(drop), "--once", "--settle", "0", "--dry-run-tariff", str(_tariff_file(tmp_path))]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"import-watch: file: big.csv is {len(SHELL_CSV) + 4096} bytes, larger than the "
                                "limit of 4096 bytes (EVBILL_MAX_BODY_BYTES); moved to refused/"]
    assert json.loads(out.splitlines()[0])["file"] == "small.csv"  # the watch went on with the next file
    assert (drop / "refused" / "big.csv").exists() and (drop / "done" / "small.csv").exists()
    report = json.loads((drop / "reports" / "big.csv.json").read_text())
    assert report["rows"] == 0 and "larger than the limit" in report["refused"]


def _tariff_file(tmp_path: Path) -> Path:
    tariff = tmp_path / "tariff.json"
    tariff.write_text(json.dumps(FLAT_TARIFF), encoding="utf-8")
    return tariff
