"""``evbill chargepoint import``: one poll of ChargePoint's SOAP API into billing (``evbill scheduler`` runs the
same poll every ``CHARGEPOINT_POLL_MINUTES`` when ``CHARGEPOINT_API_USER`` is set)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from connector.commands import InputError, database_url
from connector.config import ChargePointApiSettings

LOG = logging.getLogger("connector.commands.chargepoint")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("chargepoint", help="ChargePoint Web Services API (SOAP): import ended sessions")
    sub = p.add_subparsers(dest="chargepoint_command", metavar="ACTION", required=True)
    q = sub.add_parser("import", help="read sessions since the stored cursor and bill each ended one once")
    q.add_argument("--database-url", help="default $DATABASE_URL or sqlite:///evbill.db")
    q.add_argument("--now", help="ISO instant the window ends at (default now)")
    q.set_defaults(func=run_import)


def poll(engine: Engine, settings: ChargePointApiSettings, now: datetime | None = None) -> dict[str, Any]:
    """One import run (the scheduler's job and the command's body)."""
    from connector.billing.intake import DatabaseSink
    from connector.ingest.chargepoint_soap import CursorStore, make_service
    from connector.ingest.chargepoint_soap import run_import as import_sessions

    if not settings.user or not settings.password:
        raise InputError("CHARGEPOINT_API_USER: not set (and CHARGEPOINT_API_PASSWORD): the API's credentials")
    service = make_service(settings.wsdl, settings.user, settings.password, settings.endpoint)
    report = import_sessions(service, DatabaseSink(engine), CursorStore(engine, settings.tenant_id),
                             settings.tenant_id, settings.session_defaults, now,
                             timedelta(hours=settings.first_window_hours))
    return report.to_dict()


def scheduled_poll(engine: Engine, settings: ChargePointApiSettings) -> None:
    """The scheduler's job: a failed poll is logged and retried at the next tick (the cursor did not move)."""
    try:
        LOG.info("ChargePoint import: %s", poll(engine, settings))
    except Exception:  # noqa: BLE001 - one failed poll must not stop the scheduler
        LOG.exception("ChargePoint import failed; retried at the next tick")


def run_import(args: argparse.Namespace) -> int:
    from zeep.exceptions import Error as ZeepError

    from connector.config import ConfigError
    from connector.storage.db import make_engine

    try:
        settings = ChargePointApiSettings.from_environ()
    except ConfigError as exc:
        raise InputError(str(exc)) from exc
    now = None
    if args.now:
        try:
            now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InputError(f"now: '{args.now}' is not an ISO 8601 date-time") from exc
        if now.tzinfo is None:
            raise InputError("now: must carry a time zone offset")
    if not settings.user or not settings.password:
        raise InputError("CHARGEPOINT_API_USER: not set (and CHARGEPOINT_API_PASSWORD): the API's credentials")
    try:
        report = poll(make_engine(database_url(args.database_url)), settings, now)
    except (ZeepError, OSError, RuntimeError) as exc:
        print(f"evbill: chargepoint: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 1 if report["rejected"] else 0
