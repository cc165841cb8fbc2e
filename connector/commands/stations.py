"""``evbill stations add|list|set-password|rotate-password|remove``: the OCPP station registry in the database.

``evbill csms`` lets a station connect only as registered here, with its security profile (1: HTTP Basic,
2: TLS + Basic, 3: TLS client certificate). Passwords are read from standard input or generated (printed
once); only their scrypt hash is stored. ``rotate-password`` asks the running CSMS to give the station a
new password itself (2.0.1 SetVariables / 1.6 ChangeConfiguration), so no one ever types it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from connector.commands import InputError, database_url

STATION_ID = re.compile(r"[A-Za-z0-9*_=+|@.-]{1,48}")  # OCPP identifierString, without ':' (the Basic separator)
SESSION_FIELDS = ("tariff_id", "currency", "time_zone", "location_id", "customer_id")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("stations", help="OCPP stations allowed to connect to `evbill csms`, with their "
                                               "security profile and password")
    sub = p.add_subparsers(dest="stations_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--tenant", default="default", help="tenant the station's sessions belong to")
        q.add_argument("--database-url", help="default $DATABASE_URL or sqlite:///evbill.db")

    def password_source(q: argparse.ArgumentParser) -> None:
        q.add_argument("--password-stdin", action="store_true",
                       help="read the password from standard input (16-40 characters); default: generate one")
        q.add_argument("--hex", action="store_true",
                       help="generate 40 hexadecimal digits (OCPP 1.6 AuthorizationKey) instead of a mixed one")

    q = sub.add_parser("add", help="register a station")
    q.add_argument("station_id", help="the OCPP identity (last URL path segment, HTTP Basic user name)")
    q.add_argument("--profile", type=int, choices=[1, 2, 3], required=True,
                   help="1: Basic auth, 2: TLS + Basic auth, 3: TLS client certificate (CN = station id)")
    for name in SESSION_FIELDS:
        q.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"Session {name} of every transaction")
    password_source(q)
    common(q)
    q.set_defaults(func=run_add)

    q = sub.add_parser("list", help="registered stations as JSON (never the password hash)")
    common(q)
    q.set_defaults(func=run_list)

    q = sub.add_parser("set-password", help="store a password already configured on the station")
    q.add_argument("station_id")
    password_source(q)
    common(q)
    q.set_defaults(func=run_set_password)

    q = sub.add_parser("rotate-password",
                       help="ask the running `evbill csms` to give the station a new password (stored once accepted)")
    q.add_argument("station_id")
    common(q)
    q.set_defaults(func=run_rotate)

    q = sub.add_parser("remove", help="unregister a station: its next connection is refused")
    q.add_argument("station_id")
    common(q)
    q.set_defaults(func=run_remove)


def _engine(args: argparse.Namespace) -> Any:
    from connector.billing.intake import ensure_schema
    from connector.storage.db import make_engine

    engine = make_engine(database_url(args.database_url))
    ensure_schema(engine)
    return engine


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated?) from stdin or freshly generated; checked against the OCPP length rule."""
    import secrets

    from connector.security.passwords import check_password, generate_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            check_password(password)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        return password, False
    return (secrets.token_hex(20) if args.hex else generate_password()), True


def _station_id(value: str) -> str:
    if not STATION_ID.fullmatch(value):
        raise InputError(f"station_id: '{value}' must be 1-48 of A-Z a-z 0-9 * _ = + | @ . -")
    return value


def run_add(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session as DbSession

    from connector.security.passwords import hash_password
    from connector.storage import repo
    from connector.storage import stations as store

    station_id = _station_id(args.station_id)
    fields = {name: getattr(args, name) for name in SESSION_FIELDS if getattr(args, name)}
    password, generated = _password(args) if args.profile in (1, 2) else (None, False)
    engine = _engine(args)
    with DbSession(engine) as db:
        if store.get_station(db, args.tenant, station_id) is not None:
            raise InputError(f"station_id: '{station_id}' is already registered (use set-password)")
        repo.ensure_tenant(db, args.tenant)
        store.add_station(db, args.tenant, station_id, args.profile,
                          hash_password(password) if password else None, fields)
        db.commit()
    out: dict[str, Any] = {"station_id": station_id, "tenant": args.tenant, "security_profile": args.profile,
                           **({"session_fields": fields} if fields else {})}
    if generated:
        out["password"] = password  # shown once: configure it on the station now; only its hash is kept
    print(json.dumps(out, indent=2))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session as DbSession

    from connector.storage import stations as store

    with DbSession(_engine(args)) as db:
        rows = [{"station_id": r.station_id, "security_profile": r.security_profile,
                 "has_password": r.password_hash is not None, "session_fields": r.session_fields,
                 "password_changed_at": r.password_changed_at, "rotation_requested_at": r.rotation_requested_at}
                for r in store.list_stations(db, args.tenant)]
    print(json.dumps(rows, indent=2, default=str))
    return 0


def run_set_password(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session as DbSession

    from connector.security.passwords import hash_password
    from connector.storage import stations as store

    station_id = _station_id(args.station_id)
    password, generated = _password(args)
    with DbSession(_engine(args)) as db:
        row = store.get_station(db, args.tenant, station_id)
        if row is None:
            raise InputError(f"station_id: '{station_id}' is not registered")
        if row.security_profile == 3:
            raise InputError(f"station_id: '{station_id}' uses security profile 3 (client certificate), no password")
        store.set_password_hash(db, args.tenant, station_id, hash_password(password))
        db.commit()
    out: dict[str, Any] = {"station_id": station_id, "password_changed": True}
    if generated:
        out["password"] = password
    print(json.dumps(out, indent=2))
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session as DbSession

    from connector.storage import stations as store

    station_id = _station_id(args.station_id)
    with DbSession(_engine(args)) as db:
        row = store.get_station(db, args.tenant, station_id)
        if row is None:
            raise InputError(f"station_id: '{station_id}' is not registered")
        if row.security_profile == 3:
            raise InputError(f"station_id: '{station_id}' uses security profile 3 (client certificate), no password")
        store.request_rotation(db, args.tenant, station_id)
        db.commit()
    print(json.dumps({"station_id": station_id, "rotation_requested": True,
                      "note": "the running evbill csms rotates it at its next poll while the station is connected"},
                     indent=2))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session as DbSession

    from connector.storage import stations as store

    station_id = _station_id(args.station_id)
    with DbSession(_engine(args)) as db:
        if not store.remove_station(db, args.tenant, station_id):
            raise InputError(f"station_id: '{station_id}' is not registered")
        db.commit()
    print(json.dumps({"station_id": station_id, "removed": True}, indent=2))
    return 0
