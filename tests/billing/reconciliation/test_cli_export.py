"""``evbill reconcile`` on the seeded day, and the CSV/XLSX exports of its report."""

from __future__ import annotations

import io
import json

from openpyxl import load_workbook

from connector.billing.reconciliation import export as reconcile_export
from connector.billing.reconciliation.run import reconcile
from connector.cli import main
from tests.billing.reconciliation.seed import TENANT


def test_cli_json_csv_and_xlsx(seeded, engine, tmp_path, capsys):
    url = str(engine.url)
    assert main(["reconcile", "--kind", "daily", "--period", "2026-01-13", "--tenant", TENANT,
                 "--database-url", url, "--workers", "2", "--chunk", "4"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert (report["summary"]["expected"], report["summary"]["billed"], report["summary"]["paid"]) == \
        ("48.79", "44.65", "33.94")
    assert "expected 48.79 billed 44.65 paid 33.94 EUR - 5 exception(s)" in captured.err
    # progress on stderr after every chunk of 4 sessions; stdout stays the JSON report
    counts = [int(line.split()[1]) for line in captured.err.splitlines() if line.startswith("reconcile: ")]
    assert counts and counts == sorted(counts) and all(b - a <= 4 for a, b in zip([0, *counts], counts, strict=False))
    assert counts[-1] == report["summary"]["sessions"] + report["summary"]["open_sessions"], captured.err
    out = tmp_path / "rec.csv"
    assert main(["reconcile", "--kind", "daily", "--period", "2026-01-13", "--tenant", TENANT, "--stations",
                 "ST-3", "--database-url", url, "--format", "csv", "--out", str(out)]) == 0
    assert out.read_text().splitlines() == [
        "station_id,tariff_id,customer_class,currency,sessions,energy_kwh,expected,billed,paid,difference,unpaid",
        "ST-3,T-A,public,EUR,2,30.000,10.71,10.71,10.71,0.00,0.00",
        "ST-3,T-B,public,EUR,1,12.500,5.95,5.95,5.95,0.00,0.00",
    ]
    book = tmp_path / "rec.xlsx"
    assert main(["reconcile", "--kind", "monthly", "--period", "2026-01", "--tenant", TENANT,
                 "--database-url", url, "--format", "xlsx", "--out", str(book)]) == 0
    assert load_workbook(book).sheetnames == ["Summary", "Rows", "Exceptions"]


def test_cli_bad_input_exits_2_naming_the_field(seeded, engine, capsys):
    assert main(["reconcile", "--kind", "daily", "--period", "2026-1-13", "--tenant", TENANT,
                 "--database-url", str(engine.url)]) == 2
    assert "period: expected YYYY-MM-DD" in capsys.readouterr().err
    assert main(["reconcile", "--kind", "daily", "--period", "2026-01-13", "--format", "xlsx",
                 "--database-url", str(engine.url)]) == 2


def test_xlsx_summary_chart_rows_and_exceptions(seeded):
    report = reconcile(seeded, TENANT, "daily", "2026-01-13")
    book = load_workbook(io.BytesIO(reconcile_export.to_xlsx(report)))
    summary = book["Summary"]
    facts = {r[0]: r[1] for r in summary.iter_rows(values_only=True) if r[0]}
    assert (facts["Expected"], facts["Billed"], facts["Paid"], facts["Difference (expected - billed)"]) == \
        (48.79, 44.65, 33.94, 4.14)
    assert facts["Exceptions: unbilled"] == 2 and facts["Sessions"] == 11
    # per-station table behind the chart: expected / billed / paid
    assert {r[0]: r[1:4] for r in summary.iter_rows(values_only=True) if str(r[0]).startswith("ST-")} == {
        "ST-1": (21.42, 17.85, 7.14), "ST-2": (10.71, 10.14, 10.14), "ST-3": (16.66, 16.66, 16.66)}
    charts = summary._charts
    assert len(charts) == 1 and len(charts[0].series) == 3
    rows = list(book["Rows"].iter_rows(values_only=True))
    assert rows[0] == reconcile_export.ROW_COLUMNS and len(rows) == 8
    assert rows[1][:9] == ("ST-1", "T-A", "fleet", "EUR", 1, 20, 7.14, 7.14, 0)
    exceptions = list(book["Exceptions"].iter_rows(values_only=True))
    assert [(r[0], r[2]) for r in exceptions[1:]] == [("duplicate", "S9"), ("mismatch", "S8"),
                                                      ("negative_energy", "S10"), ("unbilled", "S10"),
                                                      ("unbilled", "S7")]
    assert "expected=3.57; billed=3.00; difference=0.57" in exceptions[2][8]


def test_csv_of_exceptions(seeded):
    report = reconcile(seeded, TENANT, "daily", "2026-01-13", ["ST-2"])
    lines = reconcile_export.exceptions_csv(report).splitlines()
    assert lines[0] == ",".join(reconcile_export.EXCEPTION_COLUMNS)
    assert len(lines) == 2 and lines[1].startswith("mismatch,reconciliation_mismatch,S8,ST-2,T-A,public,")
