"""The CLI promise for bad files: exit 2 and one line naming the input — never a traceback.

A directory, a binary file, JSON nested 100,000 deep and a file over the size limit, for every command that
reads a file; the limit is ``EVBILL_MAX_DOCUMENT_BYTES`` (one JSON document) or ``EVBILL_MAX_BODY_BYTES``
(a batch file).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from connector.cli import main
from tests.rating.conftest import SPEC_221

TARIFF = SPEC_221 / "tariff_1_simple_2hour.json"
CDR = SPEC_221 / "cdr_example.json"
BINARY = bytes(range(256)) * 64  # a byte 0x80 early on: not UTF-8


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "dir").mkdir()
    (tmp_path / "binary.bin").write_bytes(BINARY)
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "ok.csv").write_text("session_id,start,end,energy_kwh\n")
    return {"dir": tmp_path / "dir", "binary": tmp_path / "binary.bin", "deep": tmp_path / "deep.json",
            "csv": tmp_path / "ok.csv", "out": tmp_path / "out.xlsx"}


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str], *needles: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evbill: error: "), err
    assert "Traceback" not in err and all(n in lines[0] for n in needles), lines[0]
    return lines[0]


# (argv with {bad} where the bad input goes, the field the line names)
COMMANDS = [
    (["rate", "--cdr", "{bad}"], "cdr"),
    (["rate", "--tariff", "{bad}", "--cdr", str(CDR)], "tariff"),
    (["rate", "--tariff", str(TARIFF), "--session", "{bad}"], "session"),
    (["rate", "--tariff", str(TARIFF), "--sessions", "{bad}"], "sessions"),
    (["import", "{bad}", "--mapping", "shell_recharge", "--dry-run-tariff", str(TARIFF)], "file"),
    (["import", "{csv}", "--mapping", "shell_recharge", "--dry-run-tariff", "{bad}"], "tariff"),
    (["export-workbook", "--tariff", "{bad}", "--sessions", "{csv}", "--out", "{out}"], "tariff"),
    (["export-workbook", "--tariff", str(TARIFF), "--sessions", "{bad}", "--out", "{out}"], "sessions"),
    (["csms", "--stations", "{bad}", "--dry-run-tariff", str(TARIFF)], "stations"),
]


# deep JSON only where the input is JSON: the CSV inputs (sessions, the import file) are covered below
CASES = [(kind, argv, field) for kind in ("dir", "binary", "deep") for argv, field in COMMANDS
         if not (kind == "deep" and field in ("sessions", "file"))]


@pytest.mark.parametrize(("kind", "argv", "field"), CASES,
                         ids=[f"{k} " + " ".join(a[:2]) + f" {f}" for k, a, f in CASES])
def test_bad_file_is_one_line_naming_it(kind, argv, field, files, capsys) -> None:
    bad = files[kind]
    args = [a.format(bad=bad, csv=files["csv"], out=files["out"]) for a in argv]
    line = _one_line(capsys, args, f"{field}:", str(bad))
    reason = {"dir": "is a directory", "binary": "not utf-8", "deep": "JSON nested too deeply"}[kind]
    assert reason in line


def test_json_import_nested_too_deeply_is_one_line(files, tmp_path, capsys) -> None:
    deep = tmp_path / "deep-export.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("format: json\nfields: {session_id: id, start: start, end: end, energy_kwh: kwh}\n")
    _one_line(capsys, ["import", str(deep), "--mapping", str(mapping), "--dry-run-tariff", str(TARIFF)],
              "file:", "nested too deeply")


def test_document_size_limit_is_configurable(tmp_path, capsys, monkeypatch) -> None:
    cdr = CDR.read_bytes()
    monkeypatch.setenv("EVBILL_MAX_DOCUMENT_BYTES", str(len(cdr) - 1))
    line = _one_line(capsys, ["rate", "--cdr", str(CDR)], "cdr:", f"is {len(cdr)} bytes",
                     f"limit of {len(cdr) - 1} bytes")
    assert str(CDR) in line
    monkeypatch.setenv("EVBILL_MAX_DOCUMENT_BYTES", str(len(cdr)))
    assert main(["rate", "--cdr", str(CDR)]) == 0
    assert json.loads(capsys.readouterr().out)["invoice"]["amount_due"] == "4.40"


def test_batch_files_use_the_body_limit(tmp_path, capsys, monkeypatch) -> None:
    sessions = tmp_path / "s.csv"
    sessions.write_text("session_id,start,end,energy_kwh\na,2026-01-13T10:00:00Z,2026-01-13T11:00:00Z,1\n")
    monkeypatch.setenv("EVBILL_MAX_BODY_BYTES", "20")
    _one_line(capsys, ["rate", "--tariff", str(TARIFF), "--sessions", str(sessions)], "sessions:",
              "larger than the limit of 20 bytes")
    _one_line(capsys, ["import", str(sessions), "--mapping", "shell_recharge", "--dry-run-tariff", str(TARIFF)],
              "file:", "larger than the limit")


def test_default_document_limit_refuses_a_56_mb_cdr_before_reading_it(tmp_path, capsys) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as fh:  # sparse: 56 MB on the file system without writing them
        fh.truncate(56 * 1024 * 1024)
    _one_line(capsys, ["rate", "--cdr", str(big)], "cdr:", "is 56.0 MiB, larger than the limit of 4.0 MiB")


def test_unwritable_out_is_one_line(files, capsys) -> None:
    sessions = files["csv"]
    _one_line(capsys, ["rate", "--tariff", str(TARIFF), "--sessions", str(sessions), "--out", str(files["dir"])],
              "out: cannot write")


def test_as_a_process_no_traceback(files) -> None:
    proc = subprocess.run([sys.executable, "-m", "connector.cli", "rate", "--cdr", str(files["deep"])],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"evbill: error: cdr: {files['deep']}: JSON nested too deeply"]
