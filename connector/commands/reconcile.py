"""``evbill reconcile --kind daily --period 2026-01-13 [--stations ST-1 ST-2] [--format json|csv|xlsx --out F]``.

The operator's batch trigger (trigger 3) for a cron job: runs the reconciliation on the batch
path (``--workers`` processes re-rate), stores it, emits its events and commits once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from connector.commands import InputError, database_url


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import sessionmaker

    from connector import config
    from connector.billing.reconciliation import export as reconcile_export
    from connector.billing.reconciliation.run import reconcile
    from connector.commands.progress import reporter
    from connector.storage.db import make_engine
    from connector.storage.tables import all_metadata

    if args.format == "xlsx" and args.out is None:
        raise InputError("--out: required with --format xlsx (a workbook is not printed)")
    settings = config.ReconcileSettings.from_environ()
    workers = settings.processes if args.workers is None else args.workers
    engine = make_engine(database_url(args.database_url))
    if args.create_tables:
        all_metadata().create_all(engine)
    try:
        with sessionmaker(engine)() as db:
            try:
                report = reconcile(db, args.tenant, args.kind, args.period, args.stations, workers=workers,
                                   chunk=args.chunk, mode=args.mode, partitions=args.partitions,
                                   progress=reporter("reconcile", "sessions reconciled"),
                                   pool_min=settings.pool_min_sessions)
            except ValueError as exc:
                field, reason = getattr(exc, "field", None), getattr(exc, "reason", None)
                raise InputError(f"{field}: {reason}" if field else str(exc)) from exc
            db.commit()
    finally:
        engine.dispose()
    if args.format == "xlsx":
        args.out.write_bytes(reconcile_export.to_xlsx(report))
    else:
        text = reconcile_export.to_csv(report) if args.format == "csv" else json.dumps(report, indent=2) + "\n"
        if args.out is None:
            sys.stdout.write(text)
        else:
            args.out.write_text(text, encoding="utf-8")
    summary = report["summary"]
    print(f"reconciliation {report['id']} {report['kind']} {report['period']}: expected {summary['expected']} "
          f"billed {summary['billed']} paid {summary['paid']} {summary['currency'] or ''} - "
          f"{len(report['exceptions'])} exception(s)", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("reconcile", help="revenue reconciliation of a day or month (expected/billed/paid)")
    p.add_argument("--kind", required=True, choices=["daily", "monthly"])
    p.add_argument("--period", required=True, help="YYYY-MM-DD (daily) or YYYY-MM (monthly), station local time")
    p.add_argument("--stations", nargs="+", default=None, help="station ids (default: all)")
    p.add_argument("--tenant", default="default")
    p.add_argument("--database-url", help="default $DATABASE_URL or sqlite:///evbill.db")
    p.add_argument("--format", choices=["json", "csv", "xlsx"], default="json")
    p.add_argument("--out", type=Path, default=None, help="write the report here (default: stdout)")
    p.add_argument("--workers", type=int, default=None,
                   help="re-rating processes (default $EVBILL_RECONCILE_PROCESSES, else the number of CPUs)")
    p.add_argument("--partitions", type=int, default=1,
                   help="station shares reconciled in separate processes (reads committed data)")
    p.add_argument("--chunk", type=int, default=2000, help="sessions per chunk read and rated")
    p.add_argument("--mode", choices=["rerate", "stored"], default="rerate",
                   help="expected from re-rating (default) or from the rating stored at billing")
    p.add_argument("--create-tables", action="store_true", help="create missing tables first (development)")
    p.set_defaults(func=run)
