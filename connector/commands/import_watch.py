"""``evbill import-watch DIR --interval 60``: import exports dropped into DIR (Shell Recharge by default).

A file over ``EVBILL_MAX_BODY_BYTES`` (the batch-file limit of ``import-sessions`` and ``POST /v1/imports``)
is not read: one line on stderr, the file moved to ``refused/``, the watch goes on; ``--once`` then exits 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from connector.commands import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("import-watch", help="import CSV/JSON exports dropped into a directory, on an interval")
    p.add_argument("directory", type=Path)
    p.add_argument("--interval", type=float, default=60.0, help="seconds between scans")
    p.add_argument("--mapping", default="shell_recharge", help="mapping file or preset (default shell_recharge)")
    p.add_argument("--settle", type=float, default=5.0, help="leave files changed in the last N seconds")
    p.add_argument("--once", action="store_true", help="one scan, then exit (cron)")
    p.add_argument("--tenant", default="default")
    p.add_argument("--database-url", help="default $DATABASE_URL or sqlite:///evbill.db")
    p.add_argument("--tariff", type=Path, help="price ended sessions with this tariff JSON (when billing is not set up)")
    p.add_argument("--dry-run-tariff", type=Path, help="no database: price with this tariff JSON in memory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from connector.commands.inputs import batch_limit
    from connector.commands.sinks import make_sink
    from connector.ingest.tabular import load_mapping
    from connector.ingest.watch import watch
    from connector.models.session_event import IngestError

    if not args.directory.is_dir():
        raise InputError(f"directory: not a directory: {args.directory}")
    if args.interval <= 0:
        raise InputError("interval: must be > 0 seconds")
    try:
        mapping = load_mapping(args.mapping)
    except IngestError as exc:
        raise InputError(str(exc)) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sink = make_sink(args.database_url, args.dry_run_tariff, args.tariff)

    refused = []

    def show(report) -> None:  # noqa: ANN001
        if report.refused is not None:  # one line, and the watcher goes on with the next file
            refused.append(report.file)
            print(f"import-watch: file: {report.refused} (EVBILL_MAX_BODY_BYTES); moved to refused/",
                  file=sys.stderr, flush=True)
            return
        print(json.dumps({k: v for k, v in report.to_dict().items() if k != "sessions"}), flush=True)

    try:
        watch(args.directory, mapping, sink, args.tenant, args.interval, args.settle,
              passes=1 if args.once else None, on_report=show, max_bytes=batch_limit())
    except KeyboardInterrupt:
        pass
    return 2 if refused else 0
