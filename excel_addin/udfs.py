"""xlwings UDFs for Excel desktop (Windows/macOS): EVBILL_COST, EVBILL_TAX, EVBILL_LINES, in-process.

Why in-process: desktop users without the API (or offline) get the same numbers as EVBILL.COST in the
Office add-in and EVCHARGE_COST in Google Sheets, because all three go through the one spreadsheet
mapping (``connector.spreadsheets.rating``) into the rating core. Classic open-source xlwings only
(``xw.func``/``xw.arg``/``xw.ret``, BSD-3): no xlwings Server, no PRO features, no licence key.

Tariffs: ``EVBILL_TARIFF_DIR`` (a folder of ``<tariff_id>.json`` OCPI tariffs, an object or a list of
versions) or, when unset, the connector database (``DATABASE_URL``, tenant ``EVBILL_TENANT``).
Start times: the wall clock in ``EVBILL_DEFAULT_TIME_ZONE`` (default UTC), as in the API.

Money stays Decimal until the last step: Excel cells hold IEEE doubles, so ``_to_excel`` converts at
the boundary only. The plain functions ``cost``/``tax``/``lines`` return Decimals and are what the
tests check to the cent; on Linux the xlwings decorators are no-ops, so the module imports and runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import xlwings as xw
from pydantic import ValidationError

from connector.config import DatabaseSettings, SpreadsheetSettings
from connector.models import Tariff
from connector.spreadsheets.rating import FIELDS, LINE_HEADER, SheetResult, rate_rows

Cell = Decimal | str
Matrix = list[list[Any]]


def _tariffs_from_dir(folder: Path, tariff_id: str) -> list[Tariff] | None:
    path = folder / f"{tariff_id}.json"
    if "/" in tariff_id or "\\" in tariff_id or not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    try:
        return [Tariff.model_validate(t) for t in (data if isinstance(data, list) else [data])]
    except ValidationError:
        return None  # shown as "tariff ... does not exist" rather than a crash in a cell


@lru_cache(maxsize=4)
def _engine(url: str) -> Any:
    """One engine per database URL for the Excel process (a UDF runs on every recalculation)."""
    from connector.storage.db import make_engine

    return make_engine(url)


def _tariffs_from_db(tariff_id: str) -> list[Tariff] | None:
    from sqlalchemy.orm import Session as DbSession

    from connector.storage import repo

    with DbSession(_engine(DatabaseSettings.from_environ().url)) as db:
        return repo.load_tariffs(db, SpreadsheetSettings.from_environ().tenant, tariff_id)


def tariff_lookup(tariff_id: str) -> list[Tariff] | None:
    """The versions of ``tariff_id`` from ``EVBILL_TARIFF_DIR``, else from the connector database."""
    folder = SpreadsheetSettings.from_environ().tariff_dir
    if folder:
        return _tariffs_from_dir(Path(folder), tariff_id)
    return _tariffs_from_db(tariff_id)


def _flatten(value: Any) -> tuple[list[Any], tuple[int, int] | None]:
    """A cell value or a 2-D range as a flat list, with the range's shape (None for one cell)."""
    if isinstance(value, list | tuple):
        rows = [list(r) if isinstance(r, list | tuple) else [r] for r in value]
        flat = [v for r in rows for v in r]
        if len(flat) == 1:
            return flat, None
        return flat, (len(rows), len(rows[0]) if rows else 0)
    return [value], None


def _cell_in(value: Any) -> Any:
    """xlwings gives date cells as datetime: pass the wall-clock text the cell shows (as the add-ins do)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return None if value == "" else value


def _rows(args: Sequence[Any]) -> tuple[list[list[Any]], tuple[int, int] | None]:
    columns: list[list[Any]] = []
    shape: tuple[int, int] | None = None
    size = 1
    for name, value in zip(FIELDS, args, strict=True):
        flat, here = _flatten(value)
        if here is not None:
            if shape is not None and len(flat) != size:
                raise ValueError(f"{name}: the range has {len(flat)} cells but an earlier range has {size}")
            shape, size = shape or here, len(flat)
        columns.append(flat)
    rows = [[_cell_in(c[i] if len(c) > 1 else c[0]) for c in columns] for i in range(size)]
    return [r if r[4] is not None else r[:4] for r in rows], shape


def _rate(args: Sequence[Any], lookup: Callable[[str], Any] | None) -> tuple[list[SheetResult], Any]:
    rows, shape = _rows(args)
    return rate_rows(rows, lookup or tariff_lookup), shape


def _shaped(values: list[Cell], shape: tuple[int, int] | None) -> list[list[Cell]]:
    if shape is None:
        return [[values[0]]]
    rows, cols = shape
    return [values[r * cols:(r + 1) * cols] for r in range(rows)]


def _value(result: SheetResult, name: str) -> Cell:
    if result.blank:
        return ""
    if not result.ok:
        return result.error or "#ERROR"
    return Decimal(getattr(result, name))


def cost(kwh: Any, minutes: Any, start: Any, tariff_id: Any, customer_class: Any = None,
         lookup: Callable[[str], Any] | None = None) -> list[list[Cell]]:
    """Cost incl. tax per row (Decimal), ``#ERROR: field: reason`` for a bad row, "" for a blank row."""
    results, shape = _rate((kwh, minutes, start, tariff_id, customer_class), lookup)
    return _shaped([_value(r, "cost_incl_tax") for r in results], shape)


def tax(kwh: Any, minutes: Any, start: Any, tariff_id: Any, customer_class: Any = None,
        lookup: Callable[[str], Any] | None = None) -> list[list[Cell]]:
    """Total tax per row (Decimal), same conventions as ``cost``."""
    results, shape = _rate((kwh, minutes, start, tariff_id, customer_class), lookup)
    return _shaped([_value(r, "tax") for r in results], shape)


def lines(kwh: Any, minutes: Any, start: Any, tariff_id: Any, customer_class: Any = None,
          lookup: Callable[[str], Any] | None = None) -> list[list[Any]]:
    """Header + one row per invoice line (row, category, description, quantity, unit, unit_price, net,
    tax, gross); a bad row shows its error in place."""
    results, _ = _rate((kwh, minutes, start, tariff_id, customer_class), lookup)
    table: list[list[Any]] = [list(LINE_HEADER)]
    for i, result in enumerate(results):
        if result.blank:
            continue
        if not result.ok:
            table.append([i + 1, result.error] + [""] * (len(LINE_HEADER) - 2))
            continue
        for line in result.lines:
            table.append([i + 1, line[1], line[2], Decimal(line[3]), line[4], Decimal(line[5]), Decimal(line[6]),
                          Decimal(line[7]), Decimal(line[8])])
    return table


def _to_excel(table: list[list[Any]]) -> Matrix:
    """Excel cells are doubles: Decimals become floats here, at the boundary, and nowhere earlier."""
    return [[float(v) if isinstance(v, Decimal) else v for v in row] for row in table]


def _guard(fn: Callable[[], Matrix]) -> Matrix:
    """A whole-call problem (ranges of different sizes, no database) is one #ERROR cell, never a crash."""
    try:
        return fn()
    except ValueError as exc:
        return [[f"#ERROR: {exc}"]]


_ARGS = ("kwh", "minutes", "start", "tariff_id", "customer_class")
_DOCS = ("Energy delivered in kWh (a cell or a column)", "Session length in minutes",
         "Session start (local date-time)", "Tariff id", "Optional customer class, e.g. fleet")


def _udf(fn: Callable[..., Matrix]) -> Callable[..., Matrix]:
    """Apply the xlwings decorators: every argument as a 2-D range, the result spilled as a table."""
    for name, doc in zip(reversed(_ARGS), reversed(_DOCS), strict=True):
        fn = xw.arg(name, ndim=2, doc=doc)(fn)
    fn = xw.ret(expand="table")(fn)
    return xw.func(category="EV billing")(fn)


@_udf
def EVBILL_COST(kwh: Any, minutes: Any, start: Any, tariff_id: Any, customer_class: Any = None) -> Matrix:  # noqa: N802
    """Cost of charging sessions including tax, rated by the billing connector's core."""
    return _guard(lambda: _to_excel(cost(kwh, minutes, start, tariff_id, customer_class)))


@_udf
def EVBILL_TAX(kwh: Any, minutes: Any, start: Any, tariff_id: Any, customer_class: Any = None) -> Matrix:  # noqa: N802
    """Tax on charging sessions, rated by the billing connector's core."""
    return _guard(lambda: _to_excel(tax(kwh, minutes, start, tariff_id, customer_class)))


@_udf
def EVBILL_LINES(kwh: Any, minutes: Any, start: Any, tariff_id: Any, customer_class: Any = None) -> Matrix:  # noqa: N802
    """Invoice lines of charging sessions as a table that spills."""
    return _guard(lambda: _to_excel(lines(kwh, minutes, start, tariff_id, customer_class)))
