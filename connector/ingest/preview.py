"""``evbill import --dry-run``: what a column mapping makes of a file's first rows, before anything is stored.

Why: some presets (Shell Recharge / Greenlots) follow no published export format, so the mapping is the
user's to edit; the preview shows each mapped field next to its column, the session the row would become
(or the field it is refused for), the file's columns no field reads, and mapped columns the file lacks.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from connector.ingest.tabular import ColumnMapping, read_records, row_to_event
from connector.models.session_event import IngestError
from connector.models.session_merge import apply_event, to_session


def _csv_records(content: bytes, mapping: ColumnMapping) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    text = content.decode(mapping.encoding)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    return list(reader.fieldnames or []), [(reader.line_num, dict(r)) for r in reader]


def preview_content(name: str, content: bytes, mapping: ColumnMapping, rows: int = 5) -> dict[str, Any]:
    """The preview as JSON-ready data; never raises for the file's content (problems are in the result)."""
    fmt = mapping.format or ("json" if name.lower().endswith(".json") else "csv")
    try:
        if fmt == "csv":
            columns, records = _csv_records(content, mapping)
        else:
            records = [(n, dict(r)) for n, r in read_records(name, content, mapping)]
            columns = list(dict.fromkeys(k for _, r in records[:max(rows, 50)] for k in r))
    except (IngestError, UnicodeDecodeError, csv.Error) as exc:
        reason = f"{exc.field}: {exc.reason}" if isinstance(exc, IngestError) else str(exc)
        return {"file": name, "error": reason}
    used = {column.split(".", 1)[0] if fmt == "json" else column for column in mapping.fields.values()}
    out_rows = []
    for number, record in records[:rows]:
        mapped = {target: record.get(column) for target, column in mapping.fields.items()}
        entry: dict[str, Any] = {"row": number, "columns": mapped}
        try:
            event = row_to_event(record, mapping)
            to_session(apply_event(None, event, "preview"))  # the checks the import applies to the session
            entry["session"] = {"session_id": event.session_id, **event.session}
        except IngestError as exc:
            entry["error"] = {"field": exc.field, "reason": exc.reason}
        out_rows.append(entry)
    return {
        "file": name, "source": mapping.source, "rows_in_file": len(records),
        "mapping": dict(mapping.fields),
        "missing_columns": [c for c in mapping.fields.values()
                            if (c.split(".", 1)[0] if fmt == "json" else c) not in columns],
        "unmapped_columns": [c for c in columns if c not in used],
        "preview": out_rows,
    }
