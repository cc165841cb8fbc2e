"""``evbill demo``: a sample operator (3 stations, 2 tariffs, a day of sessions) through all four triggers."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from connector.commands import InputError


def _evbill() -> str:
    """How to call ``evbill`` again from here: ``.venv/bin/evbill`` after ``make demo``, else ``evbill``."""
    invoked = sys.argv[0]
    if Path(invoked).name != "evbill" or shutil.which("evbill") == os.path.abspath(invoked):
        return "evbill"
    return invoked


def _print(report: object) -> None:
    from connector.demo.run import DemoReport

    assert isinstance(report, DemoReport)
    billed = [b for b in report.billed if b.get("billing") or b.get("rating")]
    print(f"1. Session complete: {len(billed)} sessions rated and billed")
    print("   invoice        customer        status     net      tax      due  currency")
    for inv in report.invoices:
        customer = (inv.get("customer") or {}).get("id", "")
        print(f"   {inv.get('number') or inv['id'][:12]:<14} {customer:<15} {inv['status']:<9}"
              f"{inv['net_total']:>8} {inv['tax_total']:>8} {inv['amount_due']:>8}  {inv['currency']}")
    total = sum((Decimal(i["amount_due"]) for i in report.invoices if i["kind"] == "invoice"), Decimal(0))
    print(f"   amount due over all invoices: {total} EUR")
    print(f"2. Interim billing: running cost of {len(report.interim)} open sessions")
    print("   session          running cost  currency")
    for item in report.interim:
        cost = item.get("amount_due", (item.get("error") or {}).get("reason", "error"))
        print(f"   {item['session_id']:<16} {cost:>12}  {item.get('currency', '')}")
    _print_reconciliation(report.reconciliation or {})
    _print_rerating(report.rerating or {})
    print()
    print(f"Files: {', '.join(str(p) for p in report.files)}")
    print("See it in the API:")
    print(f"   DATABASE_URL={report.database_url} {_evbill()} serve --dev")
    print(f"   curl -H 'X-API-Key: {report.api_key}' http://127.0.0.1:8080/v1/invoices")
    print("   open http://127.0.0.1:8080/docs for every route")


def _print_reconciliation(recon: dict[str, Any]) -> None:
    """Step 3 as a table: one row per currency, then each exception on its own line."""
    summary = recon.get("summary") or {}
    print(f"3. Daily reconciliation ({recon.get('period') or 'the day'}): "
          f"{summary.get('sessions', 0)} sessions, {summary.get('open_sessions', 0)} still open")
    print("   currency  sessions  energy kWh  expected    billed      paid  difference    unpaid")
    for row in summary.get("by_currency") or []:
        print(f"   {row['currency']:<8} {row['sessions']:>9} {row['energy_kwh']:>11} {row['expected']:>9} "
              f"{row['billed']:>9} {row['paid']:>9} {row['difference']:>11} {row['unpaid']:>9}")
    exceptions = recon.get("exceptions") or []
    print(f"   {len(exceptions)} exceptions")
    for exc in exceptions:
        print(f"   - {exc.get('kind', '')} {exc.get('session_id') or ''}: {exc.get('message', '')}")


def _print_rerating(rerating: dict[str, Any]) -> None:
    """Step 4 as a table: each open session's outcome and the difference of its bill."""
    print(f"4. Tariff update: {rerating.get('tariff_id', '')} version {rerating.get('version_no', '')} re-rates "
          "the open sessions")
    print(f"   policy {rerating.get('policy', '')}, effective {rerating.get('effective_at', '')}")
    print("   session          outcome     net diff  gross diff")
    for item in rerating.get("sessions") or []:
        diff = item.get("difference") or {}
        print(f"   {item['session_id']:<16} {item['outcome']:<10} {diff.get('net', ''):>9} {diff.get('gross', ''):>11}")
    print(f"   {rerating.get('changed', 0)} changed, {rerating.get('unchanged', 0)} unchanged, "
          f"{rerating.get('errors', 0)} errors")


def run(args: argparse.Namespace) -> int:
    from connector.demo.run import DemoError, run_demo

    url = args.url or f"sqlite:///{Path(args.db).resolve()}"
    if args.url is None and Path(args.db).exists():
        Path(args.db).unlink()  # the demo's own file: start from a clean sample each run
    try:
        report = run_demo(url, Path(args.out))
    except DemoError as exc:
        raise InputError(str(exc)) from exc
    _print(report)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="load a sample operator and run the four billing triggers")
    p.add_argument("--db", default="evbill-demo.db", help="SQLite file for the demo (recreated each run)")
    p.add_argument("--url", default=None, help="a database URL instead (e.g. PostgreSQL); not emptied")
    p.add_argument("--out", default="evbill-demo", help="folder for the exported invoices and reports")
    p.set_defaults(func=run)
