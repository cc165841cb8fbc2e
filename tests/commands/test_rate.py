"""``evbill rate``: JSON out for CDRs and sessions, CSV batches, exit code 2 naming the field."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from connector.cli import main
from tests.rating.conftest import SPEC_221, VECTORS


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector.cli", *args], capture_output=True, text=True, timeout=60)


def test_rate_cdr_prints_ocpi_totals() -> None:
    case = VECTORS / "step_size"
    proc = run_cli("rate", "--tariff", str(case / "tariff.json"), "--cdr", str(case / "cdr1.json"), "--time-zone", "UTC")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["total_cost"] == {"excl_vat": "0.5502", "incl_vat": "0.5502"}
    assert out["total_time_cost"]["excl_vat"] == "0.3002"
    assert out["total_parking_cost"]["excl_vat"] == "0.2500"
    assert out["total_parking_time"] == "0.0334"


def test_rate_cdr_with_embedded_tariff(capsys) -> None:
    assert main(["rate", "--cdr", str(SPEC_221 / "cdr_example.json")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.4000"}
    assert out["invoice"]["amount_due"] == "4.40"


def test_rate_session_with_customer_class(tmp_path: Path, capsys) -> None:
    tariff = {"id": "T", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.20", "vat": 20, "step_size": 1}],
         "restrictions": {"x_customer_classes": ["fleet"]}},
        {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": 20, "step_size": 1}]}]}
    session = {"id": "s1", "start": "2026-01-13T10:00:00Z", "end": "2026-01-13T11:00:00Z", "energy_kwh": 20}
    (tmp_path / "t.json").write_text(json.dumps(tariff))
    (tmp_path / "s.json").write_text(json.dumps(session))
    assert main(["rate", "--tariff", str(tmp_path / "t.json"), "--session", str(tmp_path / "s.json"),
                 "--customer-class", "fleet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.8000"}
    assert out["customer_class"] == "fleet"


def test_invalid_input_exit_2_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"id": "s", "start": "2026-01-13T10:00:00Z", "end": "yesterday"}))
    proc = run_cli("rate", "--tariff", str(SPEC_221 / "tariff_1_simple_2hour.json"), "--session", str(tmp_path / "s.json"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evbill: error: session.end:")
    (tmp_path / "t.json").write_text(json.dumps({"id": "x", "currency": "EURO", "elements": []}))
    proc = run_cli("rate", "--tariff", str(tmp_path / "t.json"), "--session", str(tmp_path / "s.json"))
    assert proc.returncode == 2 and "tariff.currency" in proc.stderr
    proc = run_cli("rate", "--cdr", str(tmp_path / "missing.json"))
    assert proc.returncode == 2 and "cdr: file not found" in proc.stderr


def test_rate_csv_batch(tmp_path: Path) -> None:
    rows = "session_id,start,end,energy_kwh,time_zone\n" \
           "a,2026-01-13T10:00:00Z,2026-01-13T11:00:00Z,20,Europe/Berlin\n" \
           "b,2026-01-13T10:00:00Z,not-a-date,5,UTC\n" \
           "c,2026-01-13T10:00:00Z,2026-01-13T10:30:00Z,12.345,UTC\n"
    (tmp_path / "in.csv").write_text(rows)
    out = tmp_path / "out.csv"
    proc = run_cli("rate", "--tariff", str(SPEC_221 / "tariff_9_025kwh_start.json"), "--sessions",
                   str(tmp_path / "in.csv"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "rated 2 sessions, rejected 1" in proc.stderr
    result = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["session_id"] for r in result] == ["a", "b", "c"]
    assert (result[0]["total_excl_vat"], result[0]["amount_due"]) == ("5.5000", "6.10")
    assert result[1]["error"].startswith("end:")
    # 12.345 kWh × 0.25 = 3.08625 at 10 % VAT + 0.50 at 20 %: total_cost 3.58625 excl, 3.994875 incl.
    # The invoice bills the rated totals rounded once (3.59 / 3.99), not the sum of rounded lines (4.00).
    assert (result[2]["net_total"], result[2]["tax_total"], result[2]["amount_due"]) == ("3.59", "0.40", "3.99")
