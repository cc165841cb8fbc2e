"""CSV batch rating: one session per row in, one priced row out (CLI ``evbill rate --sessions``)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from pydantic import ValidationError

from connector.models import Customer, Session, Tariff
from connector.rating import RatingError, RatingOptions, rate
from connector.spreadsheets import batch_pool
from connector.spreadsheets.batch_pool import RatingJob
from connector.validation import first_error_line

INPUT_COLUMNS = (
    "session_id", "start", "end", "energy_kwh", "time_zone", "charging_ended_at", "customer_class",
    "customer_id", "station_id", "evse_id",
)
OUTPUT_COLUMNS = (
    "row", "session_id", "currency", "energy_kwh", "total_excl_vat", "total_incl_vat", "net_total",
    "tax_total", "gross_total", "amount_due", "error",
)


def session_from_row(row: dict[str, str], default_tz: str = "UTC") -> Session:
    data: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
    if "session_id" in data:
        data["id"] = data.pop("session_id")
    data.setdefault("time_zone", default_tz)
    return Session.model_validate(data)


def rate_row(number: int, row: dict[str, str], tariffs: list[Tariff], options: RatingOptions,
             customer: Customer | None = None) -> dict[str, str]:
    """One priced output row; a bad row gets an ``error`` naming the field instead of stopping the batch."""
    out = dict.fromkeys(OUTPUT_COLUMNS, "")
    out["row"] = str(number)
    out["session_id"] = row.get("session_id", "")
    try:
        session = session_from_row(row, options.time_zone or "UTC")
        result = rate(session, tariffs, customer, options)
    except ValidationError as exc:
        out["error"] = first_error_line(exc)
    except RatingError as exc:
        out["error"] = str(exc)
    else:
        inv = result.invoice
        out.update(
            currency=result.currency,
            energy_kwh=format(result.total_energy, "f"),
            total_excl_vat=format(result.total_cost.excl_vat, "f"),
            total_incl_vat=format(result.total_cost.incl_vat, "f"),
            net_total=format(inv.net_total, "f"),
            tax_total=format(inv.tax_total, "f"),
            gross_total=format(inv.gross_total, "f"),
            amount_due=format(inv.amount_due, "f"),
        )
    return out


def rate_rows(
    rows: Iterable[dict[str, str]],
    tariffs: list[Tariff],
    options: RatingOptions,
    customer: Customer | None = None,
) -> Iterator[dict[str, str]]:
    """Rate each row in this process, as it is read."""
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        yield rate_row(number, row, tariffs, options, customer)


def rate_numbered_rows(job: RatingJob, items: Sequence[tuple[int, dict[str, str]]]) -> list[dict[str, str]]:
    """``(row number, row)`` pairs rated with the batch's job: a chunk of the rating pool."""
    return [rate_row(number, row, job.tariffs, job.options, job.customer) for number, row in items]


def rate_csv(source: IO[str], target: IO[str], tariffs: list[Tariff], options: RatingOptions, *,
             processes: int = 1, min_sessions: int = 1) -> tuple[int, int]:
    """Returns (rows rated, rows rejected). With ``processes`` > 1 a file of at least ``min_sessions`` rows
    is rated by the rating pool (``batch_pool``); the output is the same, row for row."""
    reader = csv.DictReader(source)
    writer = csv.DictWriter(target, fieldnames=OUTPUT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    outputs: Iterable[dict[str, str]]
    if processes > 1:
        numbered = list(enumerate(reader, start=2))  # row 1 is the header
        outputs = batch_pool.rate_batch(rate_numbered_rows, RatingJob(tariffs, None, options), numbered,
                                        processes=processes, min_sessions=min_sessions)
    else:
        outputs = rate_rows(reader, tariffs, options)
    ok = bad = 0
    for out in outputs:
        writer.writerow(out)
        if out["error"]:
            bad += 1
        else:
            ok += 1
    return ok, bad
