"""Drop-directory import on an interval (Shell Recharge / Greenlots exports, any SFTP drop).

Each pass takes the ``*.csv`` / ``*.json`` files in DIR that have not changed for ``settle`` seconds
(an upload in progress is left alone; so are dot-files and ``*.part``/``*.tmp``), imports them with the
mapping, writes ``reports/<file>.rejects.csv`` (file,row,field,reason) and ``reports/<file>.json``, and
moves the file to ``done/``. Rows are idempotent by session id, so a file dropped twice re-imports as
duplicates and nothing is billed twice.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from connector.ingest.tabular import ColumnMapping, ImportReport, import_file, write_rejections
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


def scan_once(directory: Path, mapping: ColumnMapping, sink: SessionSink, tenant_id: str,
              settle: float = 5.0) -> list[ImportReport]:
    done, reports = directory / "done", directory / "reports"
    done.mkdir(exist_ok=True)
    reports.mkdir(exist_ok=True)
    results = []
    for path in pending_files(directory, settle):
        report = import_file(path, mapping, sink, tenant_id)
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
          on_report: Callable[[ImportReport], None] | None = None) -> None:
    """Scan every ``interval`` seconds (``passes`` bounds the loop, for tests and cron-style runs)."""
    done = 0
    while passes is None or done < passes:
        try:
            for report in scan_once(directory, mapping, sink, tenant_id, settle):
                if on_report:
                    on_report(report)
        except OSError as exc:  # the drop directory vanished or is unreadable: log, retry next pass
            LOG.error("import pass over %s failed: %s", directory, exc)
        done += 1
        if passes is None or done < passes:
            time.sleep(interval)
