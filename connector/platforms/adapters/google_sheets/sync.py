"""Idempotent sync of billed sessions to a Google spreadsheet: Sessions, Summary and Exceptions tabs.

Why read-before-write: ``values.append`` is not idempotent, and a delivery may be repeated (worker
restart, a 5xx after the write landed). Each round reads the key columns (session id; exception key)
with one ``values.batchGet`` and appends only rows whose key is not there yet; a failed append is
followed by a fresh read, never a blind retry. The Summary tab is recomputed from the Sessions tab
and rewritten whole, so it is correct however often the sync runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.platforms.adapters.google_sheets.client import (
    RETRYABLE_STATUS,
    TransientError,
    open_client,
    retry_after_seconds,
)
from connector.platforms.adapters.google_sheets.layout import (
    EXCEPTIONS_HEADER,
    MONEY,
    SESSIONS_HEADER,
    SUMMARY_HEADER,
    TAX_HEADER,
    Cell,
    RecordProblem,
    append_body,
    cell_decimal,
    exception_row,
    number_formats,
    same_money,
    session_row,
    summary_rows,
)
from connector.platforms.errors import PermanentError, RetryableError

LOG = logging.getLogger("connector.platforms.adapters.google_sheets.sync")
_sleep = time.sleep  # module-level so tests of the whole worker path can skip real waits
MAX_ROUNDS = 3


@dataclass(slots=True)
class SyncReport:
    appended: int = 0
    duplicates: int = 0
    exceptions: int = 0
    summary_rows: int = 0
    requests: int = 0
    new_exceptions: list[list[str]] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"appended={self.appended} duplicates={self.duplicates} exceptions={self.exceptions} "
                f"summary_rows={self.summary_rows}")


def _q(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _error(exc: BaseException, what: str) -> Exception:
    """gspread/google-auth failures as the outbox worker's Retryable/Permanent errors."""
    from google.auth.exceptions import RefreshError, TransportError
    from gspread.exceptions import APIError, SpreadsheetNotFound

    if isinstance(exc, SpreadsheetNotFound):
        return PermanentError(f"Google Sheets {what}: HTTP 404: spreadsheet not found; check the id and share "
                              "it with the service account's client_email", status_code=404)
    if isinstance(exc, PermissionError) and isinstance(exc.__cause__, APIError):
        return PermanentError(f"Google Sheets {what}: HTTP 403: share the spreadsheet with the service account's "
                              "client_email as an editor", status_code=403)
    if isinstance(exc, APIError):
        status = exc.response.status_code
        text = exc.response.text[:300]
        if status in RETRYABLE_STATUS:
            return RetryableError(f"Google Sheets {what}: HTTP {status}: {text}",
                                  retry_after=retry_after_seconds(exc.response), status_code=status)
        return PermanentError(f"Google Sheets {what}: HTTP {status}: {text}", status_code=status)
    if isinstance(exc, TransientError | TransportError):
        return RetryableError(f"Google Sheets {what}: {exc}")
    if isinstance(exc, RefreshError):
        return PermanentError(f"Google Sheets {what}: the service account was refused: {exc}")
    return PermanentError(f"Google Sheets {what}: {exc}")


def _ensure_tabs(book: Any, titles: Sequence[str]) -> dict[str, int]:
    """Create missing tabs (their header is written when the tab is read empty, see ``_headers``); the
    sheet id of every tab (number formats address a tab by id)."""
    ids = {ws.title: ws.id for ws in book.worksheets()}
    for title in titles:
        if title not in ids:
            ids[title] = book.add_worksheet(title, rows=1000, cols=len(SESSIONS_HEADER) + 2).id
    return ids


def _headers(book: Any, rows: list[list[Any]], keys: set[str], sessions: str,
             exceptions: str) -> tuple[list[list[Any]], set[str]]:
    """Write the header of an empty Sessions/Exceptions tab (also after a run that stopped half-way)."""
    if not rows:
        book.values_update(f"{_q(sessions)}!A1", params={"valueInputOption": "RAW"},
                           body={"majorDimension": "ROWS", "values": [list(SESSIONS_HEADER)]})
        rows = [list(SESSIONS_HEADER)]
    if not keys:
        book.values_update(f"{_q(exceptions)}!A1", params={"valueInputOption": "RAW"},
                           body={"majorDimension": "ROWS", "values": [list(EXCEPTIONS_HEADER)]})
        keys = {EXCEPTIONS_HEADER[0]}
    return rows, keys


def _read(book: Any, sessions: str, exceptions: str, summary: str) -> tuple[list[list[Any]], set[str], list[list[Any]]]:
    """One ``values.batchGet``: the Sessions tab, the exception keys and the current Summary."""
    # unformatted: amounts come back as the numbers written, whatever currency format the cells show
    data = book.values_batch_get([_q(sessions), f"{_q(exceptions)}!A:A", _q(summary)],
                                 params={"valueRenderOption": "UNFORMATTED_VALUE"})
    ranges = [r.get("values", []) for r in data.get("valueRanges", [])] + [[], [], []]
    rows, keys = ranges[0], {r[0] for r in ranges[1] if r}
    if rows and [c for c in rows[0] if c] and rows[0][: len(SESSIONS_HEADER)] != list(SESSIONS_HEADER):
        raise PermanentError(f"tab {sessions!r} has another header ({rows[0][:3]}...); give the sync its own tab")
    return rows, keys, ranges[2]


def _summary_formats(table: Sequence[Sequence[Cell]], sheet_id: int) -> list[dict[str, Any]]:
    """Currency formats of the summary's totals block and of its tax block (after the blank row)."""
    blank = next((i for i, row in enumerate(table) if not row), len(table))
    return [*number_formats(table[:blank], 0, SUMMARY_HEADER, MONEY, sheet_id),
            *number_formats(table[blank + 1:], blank + 1, TAX_HEADER, ("amount",), sheet_id)]


def _same_cell(value: Any) -> str:
    """A cell as comparable text: a number read back (``4`` or ``4.0``) equals the number written."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format(cell_decimal(value).normalize(), "f")
    return str(value)


def _trimmed(table: Sequence[Sequence[Any]]) -> list[list[str]]:
    """A table as the Sheets API reads it back: no trailing empty cells, no trailing empty rows."""
    out = [[_same_cell(c) for c in row] for row in table]
    for row in out:
        while row and row[-1] == "":
            row.pop()
    while out and not out[-1]:
        out.pop()
    return out


def _plan(records: Sequence[Mapping[str, Any]], rows: list[list[Any]], known_exceptions: set[str],
          report: SyncReport, money_as_text: bool = False) -> tuple[list[list[Cell]], list[list[str]]]:
    """New session rows and new exception rows (by key: nothing already in the sheet)."""
    by_id = {str(r[0]): r for r in rows[1:] if r}
    new_rows: list[list[Cell]] = []
    problems: list[list[str]] = []
    for record in records:
        try:
            row = session_row(dict(record), money_as_text)
        except RecordProblem as exc:
            problems.append(exception_row(dict(record), exc.reason, exc.detail))
            continue
        if str(row[0]) in by_id:
            report.duplicates += 1
            if not same_money(by_id[str(row[0])], row):
                problems.append(exception_row(dict(record), "amount_differs",
                                              "the sheet already lists this session with other amounts; not overwritten"))
            continue
        by_id[str(row[0])] = row
        new_rows.append(row)
    seen = set(known_exceptions)
    fresh = []
    for p in problems:
        if p[0] not in seen:
            seen.add(p[0])
            fresh.append(p)
    return new_rows, fresh


def sync_billed_sessions(spreadsheet_id: str, records: Sequence[Mapping[str, Any]], worksheet: str = "Sessions", *,
                         client: Any = None, service_account_info: Mapping[str, Any] | None = None,
                         api_base: str | None = None, value_input_option: str = "RAW",
                         summary_worksheet: str = "Summary", exceptions_worksheet: str = "Exceptions",
                         sleep: Callable[[float], None] | None = None, money_as_text: bool = False) -> SyncReport:
    """Append the records not yet in the sheet, list problems in Exceptions, rewrite Summary. Amounts are
    numbers with their currency's format (``money_as_text``: exact Decimal text, no formats)."""
    pause = sleep or _sleep
    if client is None:
        if not service_account_info:
            raise PermanentError("Google Sheets: no service_account_info configured")
        client = open_client(service_account_info, api_base=api_base, sleep=pause)
    report = SyncReport()
    try:
        book = client.open_by_key(spreadsheet_id)
        sheet_ids = _ensure_tabs(book, (worksheet, exceptions_worksheet, summary_worksheet))
        params = {"valueInputOption": value_input_option, "insertDataOption": "INSERT_ROWS"}
        appended_now: list[list[Cell]] = []
        to_format: list[tuple[int, list[Any]]] = []  # (0-based sheet row, row) that get number formats
        maybe_landed: set[str] = set()  # ids of an append that failed: it may have been written anyway
        for round_no in range(1, MAX_ROUNDS + 1):
            rows, exception_keys, current_summary = _read(book, worksheet, exceptions_worksheet, summary_worksheet)
            rows, exception_keys = _headers(book, rows, exception_keys, worksheet, exceptions_worksheet)
            report.duplicates, appended_now = 0, []
            new_rows, new_problems = _plan(records, rows, exception_keys, report, money_as_text)
            # rows an earlier round wrote before its answer failed: found now, formatted now
            to_format = [(i, row) for i, row in enumerate(rows) if i and row and str(row[0]) in maybe_landed]
            try:
                if new_rows:
                    maybe_landed |= {str(row[0]) for row in new_rows}
                    book.values_append(f"{_q(worksheet)}!A1", params, append_body(new_rows))
                    appended_now = new_rows
                    # INSERT_ROWS writes right after the table's last row
                    to_format += [(len(rows) + i, list(row)) for i, row in enumerate(new_rows)]
                    report.appended += len(new_rows)
                if new_problems:
                    book.values_append(f"{_q(exceptions_worksheet)}!A1", params, append_body(new_problems))
                    report.new_exceptions += new_problems
                break
            except Exception as exc:  # noqa: BLE001 - classified below; only retryable ones loop
                err = _error(exc, "append")
                if not isinstance(err, RetryableError) or round_no == MAX_ROUNDS:
                    raise err from exc
                LOG.warning("append failed (%s); re-reading before round %d", err, round_no + 1)
                pause(err.retry_after if err.retry_after is not None else float(2 ** round_no))
        report.exceptions = len(report.new_exceptions)
        if to_format and not money_as_text:
            book.batch_update({"requests": [req for at, row in to_format for req in number_formats(
                [row], at, SESSIONS_HEADER, MONEY, sheet_ids[worksheet])]})
        table = summary_rows(rows[1:] + appended_now, money_as_text)
        if _trimmed(table) != _trimmed(current_summary):  # also heals a summary a crash left stale
            book.values_clear(_q(summary_worksheet))
            book.values_update(f"{_q(summary_worksheet)}!A1", params={"valueInputOption": "RAW"},
                               body={"majorDimension": "ROWS", "values": table})
            report.summary_rows = len(table)
            if not money_as_text:
                book.batch_update({"requests": _summary_formats(table, sheet_ids[summary_worksheet])})
    except (RetryableError, PermanentError):
        raise
    except Exception as exc:  # noqa: BLE001 - every gspread/google-auth failure becomes a delivery error
        raise _error(exc, "sync") from exc
    finally:
        report.requests = int(getattr(getattr(client, "http_client", None), "calls", 0))
    LOG.info("google sheets sync %s: %s", spreadsheet_id, report)
    return report
