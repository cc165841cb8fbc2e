"""``evbill db upgrade|revision|check``: Alembic migrations of ``$DATABASE_URL`` (or ``--url``)."""

from __future__ import annotations

import argparse

from connector.commands import database_url


def run(args: argparse.Namespace) -> int:
    from connector.storage import migrate

    url = database_url(args.url)
    if args.action == "upgrade":
        migrate.upgrade(url, args.revision)
        print("database at", args.revision)
        return 0
    if args.action == "revision":
        migrate.revision(args.message, url)
        return 0
    differences = migrate.diff(url)
    for item in differences:
        print(item)
    print("no differences" if not differences else f"{len(differences)} difference(s): run `evbill db revision`")
    return 0 if not differences else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("db", help="database migrations (Alembic)")
    p.add_argument("action", choices=["upgrade", "revision", "check"])
    p.add_argument("--url", default=None, help="database URL (default $DATABASE_URL)")
    p.add_argument("--revision", default="head", help="target of upgrade (default head)")
    p.add_argument("-m", "--message", default="schema change", help="message of a new revision")
    p.set_defaults(func=run)
