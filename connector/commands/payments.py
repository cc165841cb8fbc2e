"""``evbill payments sync [--tenant T] [--platform stripe|square|xero|paypal|plaid]``: the catch-up of payments
from the vendors' polling APIs (missed webhooks; Plaid Transfer's event sync), one transaction per tenant and
platform.

Prints one JSON line per (tenant, platform) polled; exit 1 when any of them failed (each failure is printed).
``evbill scheduler`` runs the same every ``EVBILL_PAYMENTS_SYNC_MINUTES``.
"""

from __future__ import annotations

import argparse
import json

from connector.commands import database_url


def run(args: argparse.Namespace) -> int:
    from connector.billing.payments.sync import sync_all
    from connector.storage.db import make_engine

    engine = make_engine(database_url(args.url))
    try:
        results = sync_all(engine, platforms=[args.platform] if args.platform else None,
                           tenants=[args.tenant] if args.tenant else None)
    finally:
        engine.dispose()
    for result in results:
        print(json.dumps(result))
    if not results:
        print(json.dumps({"synced": 0, "note": "no tenant has an enabled payment platform with a polling API"}))
    return 1 if any("error" in r for r in results) else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from connector.billing.payments.sync import POLLERS

    p = subparsers.add_parser("payments", help="payments that come back from payment platforms")
    p.add_argument("action", choices=["sync"])
    p.add_argument("--tenant", default=None, help="only this tenant (default: every tenant)")
    p.add_argument("--platform", choices=sorted(POLLERS), default=None, help="only this platform")
    p.add_argument("--url", default=None, help="database URL (default $DATABASE_URL)")
    p.set_defaults(func=run)
