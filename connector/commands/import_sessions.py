"""``evbill import FILE --mapping M.yaml``: import a CSV/JSON session export from any network.

``--dry-run`` stores nothing: it prints what the mapping makes of the first rows, the file's unmapped
columns and the mapped columns it lacks (exit 1 when a row or column would be refused), so a user-editable
preset such as ``shell_recharge`` can be checked against a real export first."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from connector.commands import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("import", help="import a CSV/JSON session export with a column mapping")
    p.add_argument("file", type=Path)
    p.add_argument("--mapping", required=True, help="mapping YAML/JSON file, or a preset: shell_recharge")
    p.add_argument("--tenant", default="default")
    p.add_argument("--database-url", help="default $DATABASE_URL or sqlite:///evbill.db")
    p.add_argument("--rejects", type=Path, help="write rejected rows here (CSV: file,row,field,reason)")
    p.add_argument("--tariff", type=Path, help="price ended sessions with this tariff JSON (when billing is not set up)")
    p.add_argument("--dry-run-tariff", type=Path, help="no database: price with this tariff JSON in memory")
    p.add_argument("--dry-run", action="store_true",
                   help="store nothing: preview the mapped first rows, unmapped and missing columns")
    p.add_argument("--preview-rows", type=int, default=5, help="rows shown by --dry-run (default 5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from connector.commands.inputs import batch_limit, read_bytes
    from connector.commands.sinks import make_sink
    from connector.ingest.tabular import import_content, load_mapping, write_rejections
    from connector.models.session_event import IngestError

    content = read_bytes(args.file, "file", batch_limit())
    try:
        mapping = load_mapping(args.mapping)
    except IngestError as exc:
        raise InputError(str(exc)) from exc
    if args.dry_run:
        from connector.ingest.preview import preview_content

        if args.preview_rows < 1:
            raise InputError("preview-rows: at least 1")
        preview = preview_content(args.file.name, content, mapping, args.preview_rows)
        print(json.dumps(preview, indent=2, default=str))
        refused = "error" in preview or preview["missing_columns"] or any("error" in r for r in preview["preview"])
        return 1 if refused else 0
    from connector.commands.progress import reporter

    report = import_content(args.file.name, content, mapping,
                            make_sink(args.database_url, args.dry_run_tariff, args.tariff), args.tenant,
                            progress=reporter("import", "rows read"))
    whole = [r for r in report.rejected if r.row == 0]
    if whole and not report.rows:  # the file itself was refused (not text, not JSON): nothing was read
        detail = whole[0].reason if whole[0].field == "file" else f"{whole[0].field}: {whole[0].reason}"
        raise InputError(f"file: {args.file}: {detail}")
    if args.rejects:
        write_rejections(report, args.rejects)
    summary = {k: v for k, v in report.to_dict().items() if k != "sessions"}
    print(json.dumps(summary, indent=2))
    for r in report.rejected:
        print(f"evbill: rejected {r.file} row {r.row}: {r.field}: {r.reason}", file=sys.stderr)
    return 1 if report.rejected else 0
