"""``evbill platforms list [--tenant T]``: each adapter, what it does, its config keys, configured or not, whether it
sends corrections (voids, credit notes; for an adapter that sends them in one mode only, as the tenant's settings say)
and whether payments come back from it (webhook, poll)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from connector.billing.payments.capabilities import payments_of, sends_corrections
    from connector.commands import InputError, database_url
    from connector.platforms import registry, settings

    tenant_settings: dict[str, settings.PlatformSettings] = {}
    if args.tenant:
        from sqlalchemy.orm import Session

        from connector.storage.db import make_engine

        try:
            with Session(make_engine(database_url(args.url))) as db:
                tenant_settings = {name: settings.effective(db, args.tenant, name) for name in registry.discover()}
        except SQLAlchemyError as exc:
            raise InputError(f"--url: cannot read platform settings ({type(exc).__name__}); "
                             "run `evbill db upgrade` first") from exc
    else:
        merged: dict[str, settings.PlatformSettings] = {}
        for per_tenant in settings.load_file().values():
            for name, entry in per_tenant.items():
                merged.setdefault(name, entry)
        tenant_settings = merged
    rows: list[dict[str, Any]] = []
    for name, platform in registry.discover().items():
        current = tenant_settings.get(name) or settings.PlatformSettings()
        corrections = sends_corrections(platform.events)
        sent_by = getattr(platform.module, "corrections_sent", None)  # some send them in one mode only
        if corrections and sent_by is not None and current.configured:
            corrections = bool(sent_by(settings.merged(platform, current)))
        rows.append({"name": name, "summary": platform.summary, "events": list(platform.events),
                     "configured": current.configured, "enabled": current.enabled,
                     "corrections": corrections, "corrections_note": getattr(platform.module, "CORRECTIONS_NOTE", None),
                     "payments": payments_of(name),
                     "config_keys": [k.name + ("*" if k.required else "") + (" (secret)" if k.secret else "")
                                     for k in platform.config_keys()]})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = ("enabled" if row["enabled"] else "disabled") if row["configured"] else "not configured"
        print(f"{row['name']:<16} {state:<15} {row['summary']}")
        print(f"{'':<16} events: {', '.join(row['events'])}")
        note = f" ({row['corrections_note']})" if row["corrections_note"] else ""
        print(f"{'':<16} corrections: {'sent' if row['corrections'] else 'no'}{note}; "
              f"payments back: {row['payments'] or 'no'}")
        print(f"{'':<16} config: {', '.join(row['config_keys'])}")
    print("(* required; secrets are set as env:VAR or file:/path references)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("platforms", help="outbound platform adapters")
    p.add_argument("action", choices=["list"])
    p.add_argument("--tenant", default=None, help="show this tenant's settings from the database")
    p.add_argument("--url", default=None, help="database URL (default $DATABASE_URL)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)
