"""``evbill demo`` (the README's main command): the sample operator through the four triggers, exact money."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from connector.cli import main
from connector.demo.run import run_demo


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("demo")
    return run_demo(f"sqlite:///{base / 'demo.db'}", base / "out")


def test_session_complete_invoices_are_exact(report) -> None:
    got = sorted((i["customer"]["id"], i["net_total"], i["tax_total"], i["amount_due"], i["status"])
                 for i in report.invoices)
    assert got == sorted([
        # fleet: one invoice per session. DC 52 min: 1.00 + 61.25 kWh × 0.59 + 7 min × 6.00/h after 45 min
        ("cust-fleet", "37.84", "7.19", "45.03", "finalized"),
        # AC 13:50, 12.88 kWh × 0.39 + 5 idle minutes after the 15-minute grace × 6.00/h
        ("cust-fleet", "5.52", "1.05", "6.57", "finalized"),
        ("cust-fleet", "7.18", "1.36", "8.54", "finalized"),  # 18.4 kWh × 0.39
        ("cust-city", "42.14", "0.00", "42.14", "finalized"),  # government: tax exempt
        # VAT once per rate on the invoice's net (EVBILL_INVOICE_VAT=per_rate): 19 % of 38.72 is 7.3568 -> 7.36
        # and of 100.34 is 19.0646 -> 19.06, where the sessions as rated sum to 7.35 and 19.07
        ("cust-member", "38.72", "7.36", "46.08", "finalized"),
        ("cust-public", "100.34", "19.06", "119.40", "finalized"),
    ])
    assert sorted(i["number"] for i in report.invoices) == [f"INV-00000{n}" for n in range(1, 7)]
    assert len([b for b in report.billed if b.get("billing")]) == 14


def test_interim_rerating_and_reconciliation(report) -> None:
    interim = {i["session_id"]: i["amount_due"] for i in report.interim}
    # member 22:40-23:30, 4.2 kWh × 0.32 = 1.34 + 0.25 VAT; public 23:05-23:30, 2.15 kWh × 0.29 = 0.62 + 0.12
    assert interim == {"demo-open-01": "1.59", "demo-open-02": "0.74"}
    assert report.rerating is not None and report.rerating["policy"] == "apply_from_effective_time"
    # the 23:15 version: demo-open-02 (public, still charging) gets 0.25 from 23:15; demo-open-01's bill is the
    # same to the cent (a 0.00 difference is unchanged, not changed)
    outcomes = {s["session_id"]: (s["outcome"], s["difference"]["gross"]) for s in report.rerating["sessions"]}
    assert outcomes == {"demo-open-01": ("unchanged", "0.00"), "demo-open-02": ("changed", "-0.03")}
    assert (report.rerating["changed"], report.rerating["unchanged"]) == (1, 1)
    summary = report.reconciliation["summary"]
    total_due = sum(Decimal(i["amount_due"]) for i in report.invoices)
    assert total_due == Decimal("267.76")
    assert (summary["expected"], summary["billed"], summary["difference"]) == ("267.76", "267.76", "0.00")
    # +0.01 on the member's invoice and -0.01 on the public one (VAT per rate): no session is a mismatch
    assert summary["exceptions"] == {}


def test_exported_files(report) -> None:
    names = sorted(p.name for p in report.files)
    assert names == ["invoices.json", "reconciliation.csv", "reconciliation.json", "reconciliation.xlsx"]
    book = openpyxl.load_workbook(Path(report.out_dir) / "reconciliation.xlsx")
    assert book.sheetnames == ["Summary", "Rows", "Exceptions"]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert (Decimal(str(summary["Expected"])), Decimal(str(summary["Billed"]))) == (Decimal("267.76"),
                                                                                    Decimal("267.76"))
    assert summary["Sessions"] == 14 and len(book["Summary"]._charts) == 1
    invoices = json.loads((Path(report.out_dir) / "invoices.json").read_text())
    assert sum(Decimal(i["amount_due"]) for i in invoices) == Decimal("267.76")


def test_cli_prints_where_to_look(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "amount due over all invoices: 267.76 EUR" in out
    assert "evbill serve --dev" in out and (tmp_path / "evbill-demo.db").exists()
    # steps 3 and 4 are tables like steps 1 and 2, not Python dicts
    assert "{" not in out and "'" not in out.split("curl")[0]
    assert "   EUR             14     424.495    267.76    267.76      0.00        0.00    267.76" in out
    assert "   demo-open-01     unchanged       0.00        0.00" in out
    assert "   demo-open-02     changed        -0.03       -0.03" in out
    assert "   1 changed, 1 unchanged, 0 errors" in out
