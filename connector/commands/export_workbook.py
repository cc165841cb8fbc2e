"""``evbill export-workbook``: sessions CSV + tariff -> .xlsx priced by plain, auditable Excel formulas."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from pydantic import ValidationError

from connector.commands import InputError, database_url
from connector.commands.inputs import batch_limit, load_json, read_text
from connector.models import Session, Tariff
from connector.spreadsheets.batch_csv import session_from_row
from connector.validation import first_error_line


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export-workbook", help="write an .xlsx with sessions priced by Excel formulas")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--tariff", type=Path, help="OCPI tariff JSON (one version)")
    src.add_argument("--tariff-id", help="a tariff stored in the database (--url)")
    p.add_argument("--url", default=None, help="database URL for --tariff-id (default $DATABASE_URL)")
    p.add_argument("--tenant", default="default", help="tenant of --tariff-id (default: default)")
    p.add_argument("--sessions", type=Path, required=True, help="CSV as for `evbill rate --sessions`")
    p.add_argument("--out", type=Path, required=True, help="the .xlsx to write")
    p.set_defaults(func=run)


def _tariff_file(path: Path) -> Tariff:
    data = load_json(path, "tariff")
    if isinstance(data, list):
        if len(data) != 1:
            raise InputError("tariff: the workbook prices one tariff version; give a single object")
        data = data[0]
    try:
        return Tariff.model_validate(data)
    except ValidationError as exc:
        raise InputError(first_error_line(exc, "tariff")) from exc


def _stored_tariff(tariff_id: str, tenant: str, url: str | None) -> Tariff:
    """The tenant's stored versions of ``tariff_id``; the workbook needs exactly one."""
    from sqlalchemy.orm import Session as DbSession

    from connector.storage import repo
    from connector.storage.db import make_engine

    engine = make_engine(database_url(url))
    with DbSession(engine) as db:
        versions = repo.load_tariffs(db, tenant, tariff_id)
    if not versions:
        raise InputError(f"tariff_id: no tariff {tariff_id!r} for tenant {tenant!r}")
    if len(versions) != 1:
        raise InputError(f"tariff_id: {tariff_id!r} has {len(versions)} versions; export one with --tariff FILE")
    return versions[0]


def _sessions(path: Path) -> list[Session]:
    out: list[Session] = []
    source = io.StringIO(read_text(path, "sessions", batch_limit()), newline="")
    for number, row in enumerate(csv.DictReader(source), start=2):
        try:
            out.append(session_from_row(row))
        except ValidationError as exc:
            raise InputError(f"sessions row {number}: {first_error_line(exc)}") from exc
    return out


def run(args: argparse.Namespace) -> int:
    from connector.commands.progress import reporter
    from connector.spreadsheets.workbook import (  # xlsxwriter: loaded for this command only
        WorkbookError,
        export_workbook,
    )

    tariff = _tariff_file(args.tariff) if args.tariff else _stored_tariff(args.tariff_id, args.tenant, args.url)
    sessions = _sessions(args.sessions)
    try:
        result = export_workbook(tariff, sessions, args.out, progress=reporter("export-workbook", "sessions rated",
                                                                                len(sessions)))
    except WorkbookError as exc:
        raise InputError(str(exc)) from exc
    print(f"wrote {result.path}: {len(result.rows)} sessions, gross {result.gross_total} {tariff.currency}")
    return 0
