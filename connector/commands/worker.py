"""``evbill worker [--once] [--interval S]``: deliver outbox events to webhooks and platform adapters."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any


class JsonLines(logging.Formatter):
    """One JSON object per log line (the sender's structured fields under ``evbill``), for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"at": self.formatTime(record), "level": record.levelname, "logger": record.name,
                "message": record.getMessage(), **getattr(record, "evbill", {})}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def run(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from connector.config import DatabaseSettings, OutboxSettings
    from connector.events import worker
    from connector.events.deliveries import Policy
    from connector.storage.db import make_engine

    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    overrides = {k: v for k, v in {"max_attempts": args.max_attempts, "lease_seconds": args.lease,
                                   "batch": args.batch}.items() if v is not None}
    database, outbox = DatabaseSettings.from_environ(), OutboxSettings.from_environ()
    policy = Policy.model_validate({**worker.default_policy(outbox).model_dump(), **overrides})
    senders = worker.default_senders(outbox)
    if args.dry_run:  # send nothing: every request goes to the file
        from connector.platforms.dryrun import DryRunSender

        senders = lambda target: DryRunSender(args.dry_run, target=target)  # noqa: E731
    engine = make_engine(args.url or database.url)
    # like the API: missing tables are created unless EVBILL_CREATE_TABLES=0 (production runs migrations)
    if args.create_tables or database.create_tables:
        from connector.storage.tables import all_metadata

        all_metadata().create_all(engine, checkfirst=True)
    elif not inspect(engine).has_table("outbox_deliveries"):
        print(f"error: {engine.url.render_as_string(hide_password=True)} has no outbox tables; "
              "run `evbill db upgrade` first", file=sys.stderr)
        return 2
    warn_invoice_vat(engine)
    if args.once:
        print(json.dumps(worker.run_once(engine, policy=policy, senders=senders)))
        return 0
    worker.run_forever(engine, interval=args.interval, policy=policy, senders=senders)
    return 0


def warn_invoice_vat(engine: Any) -> None:
    """Once at start: vendors that recompute tax refuse invoices billed ``from_totals`` (docs/rating.md)."""
    from sqlalchemy.orm import Session

    from connector.billing.invoicing.vat import InvoiceVat, recomputing_platforms_warning
    from connector.config import BillingSettings

    with Session(engine) as db:
        message = recomputing_platforms_warning(db, InvoiceVat(BillingSettings.from_environ().invoice_vat))
    if message:
        print(f"warning: {message}", file=sys.stderr)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("worker", help="deliver outbox events (webhooks + platform adapters)")
    p.add_argument("--once", action="store_true", help="one pass, print counts as JSON, exit")
    p.add_argument("--interval", type=float, default=2.0, help="seconds to sleep when idle (default 2)")
    p.add_argument("--url", default=None, help="database URL (default $DATABASE_URL)")
    p.add_argument("--max-attempts", type=int, default=None, help="attempts before dead (default 10)")
    p.add_argument("--lease", type=float, default=None, help="claim lease in seconds (default 120)")
    p.add_argument("--batch", type=int, default=None, help="deliveries claimed per pass (default 100)")
    p.add_argument("--dry-run", metavar="FILE", default=None,
                   help="send nothing: append every request as a JSON line to FILE (for IT review)")
    p.add_argument("--create-tables", action="store_true", help="create missing tables first (the default unless EVBILL_CREATE_TABLES=0)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every request (structured)")
    p.set_defaults(func=run)
