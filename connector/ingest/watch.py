"""Drop-directory import on an interval (Shell Recharge / Greenlots exports, any SFTP drop).

Each pass takes the ``*.csv`` / ``*.json`` files in DIR that have not changed for ``settle`` seconds
(an upload in progress is left alone; so are dot-files and ``*.part``/``*.tmp``), imports them with the
mapping, writes ``reports/<file>.rejects.csv`` (file,row,field,reason) and ``reports/<file>.json``, and
moves the file to ``done/``. Rows are idempotent by session id, so a file dropped twice re-imports as
duplicates and nothing is billed twice.

A file larger than ``max_bytes`` (the command passes ``EVBILL_MAX_BODY_BYTES``, the limit of a batch file
everywhere else) is never read: it is moved to ``refused/`` with a report naming the limit, so one oversized
drop neither exhausts the watcher's memory nor blocks the files after it.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from connector.ingest.tabular import ColumnMapping, ImportReport, import_content, write_rejections
from connector.models.sink import SessionSink

LOG = logging.getLogger("connector.ingest.watch")
SUFFIXES = (".csv", ".json")


def pending_files(directory: Path, settle: float, now: float | None = None) -> list[Path]:
    now = time.time() if now is None else now
    found = []
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in SUFFIXES:
            continue
        if now - path.stat().st_mtime < settle:
            continue
        found.append(path)
    return found


def _unique(target: Path) -> Path:
    if not target.exists():
        return target
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return target.with_name(f"{target.stem}.{stamp}{target.suffix}")


def _size(count: int) -> str:
    return f"{count / 1_048_576:.1f} MiB" if count >= 1_048_576 else f"{count} bytes"


def _read(path: Path, max_bytes: int | None) -> bytes | str:
    """The file's bytes, or why it is refused (larger than ``max_bytes``; read at most one byte past it)."""
    if max_bytes is None:
        return path.read_bytes()
    size = path.stat().st_size
    if size <= max_bytes:
        with path.open("rb") as source:
            data = source.read(max_bytes + 1)  # a file that grew since is still cut at the limit
        if len(data) <= max_bytes:
            return data
        size = len(data)
    return f"{path.name} is {_size(size)}, larger than the limit of {_size(max_bytes)}"


def scan_once(directory: Path, mapping: ColumnMapping, sink: SessionSink, tenant_id: str,
              settle: float = 5.0, max_bytes: int | None = None) -> list[ImportReport]:
    done, reports = directory / "done", directory / "reports"
    done.mkdir(exist_ok=True)
    reports.mkdir(exist_ok=True)
    results = []
    for path in pending_files(directory, settle):
        content = _read(path, max_bytes)
        if isinstance(content, str):
            refused = directory / "refused"
            refused.mkdir(exist_ok=True)
            target = _unique(refused / path.name)
            report = ImportReport(file=path.name, refused=content)
            (reports / f"{target.name}.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
            shutil.move(str(path), target)
            LOG.error("refused %s: %s", path.name, content)
            results.append(report)
            continue
        report = import_content(path.name, content, mapping, sink, tenant_id)
        target = _unique(done / path.name)
        (reports / f"{target.name}.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        if report.rejected:
            write_rejections(report, reports / f"{target.name}.rejects.csv")
        shutil.move(str(path), target)
        LOG.info("imported %s: %d rows, %d accepted, %d duplicates, %d rejected", path.name, report.rows,
                 report.accepted, report.duplicates, len(report.rejected))
        results.append(report)
    return results


def watch(directory: Path, mapping: ColumnMapping, sink: SessionSink, tenant_id: str, interval: float,
          settle: float = 5.0, passes: int | None = None,
          on_report: Callable[[ImportReport], None] | None = None, max_bytes: int | None = None) -> None:
    """Scan every ``interval`` seconds (``passes`` bounds the loop, for tests and cron-style runs)."""
    done = 0
    while passes is None or done < passes:
        try:
            for report in scan_once(directory, mapping, sink, tenant_id, settle, max_bytes):
                if on_report:
                    on_report(report)
        except OSError as exc:  # the drop directory vanished or is unreadable: log, retry next pass
            LOG.error("import pass over %s failed: %s", directory, exc)
        done += 1
        if passes is None or done < passes:
            time.sleep(interval)
