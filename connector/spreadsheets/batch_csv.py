"""CSV batch rating: one session per row in, one priced row out (CLI ``evbill rate --sessions``)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import IO, Any

from pydantic import ValidationError

from connector.models import Customer, Session, Tariff
from connector.rating import RatingError, RatingOptions, rate
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


def rate_rows(
    rows: Iterable[dict[str, str]],
    tariffs: list[Tariff],
    options: RatingOptions,
    customer: Customer | None = None,
) -> Iterator[dict[str, str]]:
    """Rate each row; a bad row yields an ``error`` naming the field instead of stopping the batch."""
    for number, row in enumerate(rows, start=2):  # row 1 is the header
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
        yield out


def rate_csv(source: IO[str], target: IO[str], tariffs: list[Tariff], options: RatingOptions) -> tuple[int, int]:
    """Returns (rows rated, rows rejected)."""
    reader = csv.DictReader(source)
    writer = csv.DictWriter(target, fieldnames=OUTPUT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    ok = bad = 0
    for out in rate_rows(reader, tariffs, options):
        writer.writerow(out)
        if out["error"]:
            bad += 1
        else:
            ok += 1
    return ok, bad
