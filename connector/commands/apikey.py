"""``evbill apikey create --tenant T``: a new API key (printed once; only its hash is stored)."""

from __future__ import annotations

import argparse

from connector.commands import InputError, database_url


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from connector.api import create_tables
    from connector.storage import repo
    from connector.storage.db import make_engine

    if not args.tenant.strip() or len(args.tenant) > 64:
        raise InputError("--tenant: 1 to 64 characters")
    engine = make_engine(database_url(args.url))
    create_tables(engine)
    with Session(engine) as db:
        key = repo.create_api_key(db, args.tenant, args.name)
        db.commit()
    print(key)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("apikey", help="manage tenant API keys")
    p.add_argument("action", choices=["create"])
    p.add_argument("--tenant", required=True)
    p.add_argument("--name", default=None, help="a label for the key")
    p.add_argument("--url", default=None, help="database URL (default $DATABASE_URL)")
    p.set_defaults(func=run)
