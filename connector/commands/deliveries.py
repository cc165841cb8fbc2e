"""``evbill outbox prune`` and ``evbill deliveries list|redeliver``: outbox operations for IT admins.

The same functions as the API (``connector.events.deliveries.list_deliveries`` / ``redeliver``, same
rules: only dead or failed deliveries are redelivered) and retention (``connector.events.retention``).
Exit codes: 0 done, 2 invalid input or no outbox tables, 3 no such delivery, 4 delivery not dead/failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.commands import InputError, database_url

NOT_FOUND, CONFLICT = 3, 4
STATUSES = ("pending", "sending", "sent", "failed", "dead")


def _engine(url: str | None) -> Any:
    """The database, which must already hold the outbox (an admin command never creates tables)."""
    from sqlalchemy import inspect

    from connector.storage.db import make_engine

    engine = make_engine(database_url(url))
    if not inspect(engine).has_table("outbox_deliveries"):
        shown = engine.url.render_as_string(hide_password=True)
        engine.dispose()
        raise InputError(f"--url: {shown} has no outbox tables; run `evbill db upgrade` first")
    return engine


def prune(args: argparse.Namespace) -> int:
    from connector.events import retention

    if args.older_than_days < 1:
        raise InputError("--older-than-days: at least 1")
    if args.idempotency_hours < 1:
        raise InputError("--idempotency-hours: at least 1")
    if not 1 <= args.batch <= 100_000:
        raise InputError("--batch: 1 to 100000")
    engine = _engine(args.url)
    try:
        counts = retention.prune(engine, datetime.now(UTC), events_older_than=timedelta(days=args.older_than_days),
                                 idempotency_older_than=timedelta(hours=args.idempotency_hours),
                                 tenant_id=args.tenant, batch=args.batch, dry_run=args.dry_run)
    finally:
        engine.dispose()
    print(json.dumps({"dry_run": args.dry_run, **counts}))
    return 0


def _list(db: Any, tenant: str | None, status: str | None, limit: int) -> list[dict[str, Any]]:
    """The API's listing per tenant; without ``--tenant`` every tenant's, newest first."""
    from sqlalchemy import select

    from connector.events.deliveries import list_deliveries
    from connector.storage.tables.outbox import DeliveryRow

    if tenant is not None:
        tenants = [tenant]
    else:
        query = select(DeliveryRow.tenant_id).distinct()
        if status:
            query = query.where(DeliveryRow.status == status)
        tenants = sorted(db.scalars(query))
    items = [{"tenant_id": t, **item} for t in tenants
             for item in list_deliveries(db, t, status=status, limit=limit)["items"]]
    items.sort(key=lambda i: (i["created_at"] or "", i["id"]), reverse=True)
    return items[:limit]


def list_cmd(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    if args.limit < 1 or args.limit > 10_000:
        raise InputError("--limit: 1 to 10000")
    engine = _engine(args.url)
    try:
        with Session(engine) as db:
            items = _list(db, args.tenant, args.status, args.limit)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps({"items": items}, indent=2))
        return 0
    if not items:
        print("no deliveries" + (f" with status {args.status}" if args.status else ""))
        return 0
    print(f"{'id':<36}  {'tenant':<12}  {'status':<7}  {'tries':>5}  {'target':<49}  event / last error")
    for i in items:
        error = (i["last_error"] or "").replace("\n", " ")
        print(f"{i['id']:<36}  {i['tenant_id']:<12}  {i['status']:<7}  {i['attempts']:>5}  {i['target']:<49}  "
              f"{i['event_id']}" + (f"  {error[:120]}" if error else ""))
    return 0


def redeliver_cmd(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from connector.events.deliveries import redeliver
    from connector.storage.tables.outbox import DeliveryRow
    from connector.validation import Conflict, NotFound

    engine = _engine(args.url)
    try:
        with Session(engine) as db:
            row = db.get(DeliveryRow, args.delivery_id)
            tenant = args.tenant or (row.tenant_id if row is not None else "")
            try:
                result = redeliver(db, tenant, args.delivery_id)
            except NotFound as exc:
                where = f" for tenant {args.tenant}" if args.tenant else ""
                print(f"evbill: error: {exc}{where}", file=sys.stderr)
                return NOT_FOUND
            except Conflict as exc:
                print(f"evbill: error: {exc}", file=sys.stderr)
                return CONFLICT
            db.commit()
    finally:
        engine.dispose()
    print(json.dumps({"tenant_id": tenant, **result}))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    url_help = "database URL (default $DATABASE_URL)"
    p = subparsers.add_parser("outbox", help="outbox retention (prune old delivered events)")
    sub = p.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    q = sub.add_parser("prune", help="delete old fully-sent events and old idempotency records; prints counts")
    q.add_argument("--older-than-days", type=int, default=90, help="event retention in days (default 90)")
    q.add_argument("--idempotency-hours", type=int, default=24,
                   help="idempotency record retention in hours (default 24)")
    q.add_argument("--tenant", default=None, help="only this tenant (default: all)")
    q.add_argument("--batch", type=int, default=1000, help="rows per transaction (default 1000)")
    q.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    q.add_argument("--url", default=None, help=url_help)
    q.set_defaults(func=prune)

    p = subparsers.add_parser("deliveries", help="list outbox deliveries, redeliver dead/failed ones")
    sub = p.add_subparsers(dest="deliveries_command", metavar="ACTION", required=True)
    q = sub.add_parser("list", help="deliveries, newest first")
    q.add_argument("--status", choices=STATUSES, default=None, help="only this status")
    q.add_argument("--tenant", default=None, help="only this tenant (default: all)")
    q.add_argument("--limit", type=int, default=100, help="at most N (default 100)")
    q.add_argument("--json", action="store_true", help='JSON {"items": [...]} as the API returns (plus tenant_id)')
    q.add_argument("--url", default=None, help=url_help)
    q.set_defaults(func=list_cmd)
    q = sub.add_parser("redeliver", help="queue a dead or failed delivery again (fresh attempts)")
    q.add_argument("delivery_id")
    q.add_argument("--tenant", default=None, help="the delivery's tenant (checked when given)")
    q.add_argument("--url", default=None, help=url_help)
    q.set_defaults(func=redeliver_cmd)
