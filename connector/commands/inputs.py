"""Reading the files a command is given: every failure is one ``InputError`` line naming the input (exit 2).

Why one module: a directory, a binary file, a file larger than the limit or JSON nested too deeply must read
the same way for every command, never as a traceback. The limits are ``EVBILL_MAX_DOCUMENT_BYTES`` for one
JSON document (a CDR, session, tariff, stations file: rating time and memory grow with it, a 56 MB CDR took
about a minute and 1.5 GB) and ``EVBILL_MAX_BODY_BYTES`` for a batch file (CSV/JSON sessions), the same
limits the API puts on its bodies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connector.commands import InputError
from connector.config import ApiSettings


def document_limit() -> int:
    """Bytes of one JSON document (``EVBILL_MAX_DOCUMENT_BYTES``)."""
    return ApiSettings.from_environ().max_document_bytes


def batch_limit() -> int:
    """Bytes of a batch file (``EVBILL_MAX_BODY_BYTES``, as for an API body)."""
    return ApiSettings.from_environ().max_body_bytes


def _size(count: int) -> str:
    return f"{count / 1_048_576:.1f} MiB" if count >= 1_048_576 else f"{count} bytes"


def read_bytes(path: Path, field: str, limit: int) -> bytes:
    """The file's bytes, or ``InputError`` (missing, a directory, unreadable, larger than ``limit``)."""
    try:
        if path.is_dir():
            raise InputError(f"{field}: {path} is a directory, not a file")
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"{field}: {path} is {_size(size)}, larger than the limit of {_size(limit)}")
        with path.open("rb") as source:
            data = source.read(limit + 1)  # a file that grew (or a pipe) is still cut at the limit
    except FileNotFoundError as exc:
        raise InputError(f"{field}: file not found: {path}") from exc
    except OSError as exc:
        raise InputError(f"{field}: cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise InputError(f"{field}: {path} is larger than the limit of {_size(limit)}")
    return data


def read_text(path: Path, field: str, limit: int, encoding: str = "utf-8") -> str:
    """The file as text; a binary file (or another encoding) is refused with the byte it fails at."""
    data = read_bytes(path, field, limit)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{field}: {path} is not {encoding} text (byte {exc.start}: {exc.reason}); "
                         "is it a binary file?") from exc


def parse_json(text: str, field: str, source: Path | None = None) -> Any:
    """JSON text as Python data; invalid or too deeply nested JSON is one line naming ``field`` (and file)."""
    where = f"{field}: {source}" if source is not None else field
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except RecursionError as exc:
        raise InputError(f"{where}: JSON nested too deeply") from exc


def load_json(path: Path, field: str) -> Any:
    """One JSON document from ``path`` under the document limit."""
    return parse_json(read_text(path, field, document_limit()), field, path)
