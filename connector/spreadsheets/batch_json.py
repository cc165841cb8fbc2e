"""JSON batches (``POST /v1/rate/batch``): one result item per session, and the amounts its totals add up.

Why here and not in the route: the same function rates a batch in the API worker or, chunk by chunk, in the
rating pool's processes (``batch_pool``), so it takes plain data and returns plain data; a bad session gives
an error item naming its field instead of stopping the batch. Each item comes back already encoded as JSON
(compact, ASCII, Decimals in fixed point, like the app's JSON): encoding is done where the rating was, and
the API worker only joins the items, so its own share of a large batch stays small.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from connector.models import Session
from connector.rating import RatingError, rate
from connector.spreadsheets.batch_pool import RatingJob
from connector.validation import field_errors

TOTALS = ("net_total", "tax_total", "gross_total", "amount_due")
# (result item as JSON text, the session's TOTALS or None when it was refused, its currency or None)
Rated = tuple[str, tuple[Decimal, ...] | None, str | None]


def _fixed_point(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(item: Any) -> str:
    """Compact JSON, as the app answers (``answer``)."""
    return json.dumps(item, separators=(",", ":"), default=_fixed_point)


def answer(count: int, items: Sequence[str], totals: dict[str, Any]) -> str:
    """The batch answer ``{"count", "results", "totals"}`` from the encoded items."""
    return f'{{"count":{count},"results":[{",".join(items)}],"totals":{encode(totals)}}}\n'


def rate_items(job: RatingJob, items: Sequence[tuple[int, Any]]) -> list[Rated]:
    """Rate each ``(index, session JSON)``; the result items of the answer, in order."""
    out: list[Rated] = []
    for index, raw in items:
        prefix = f"sessions[{index}]"
        if not isinstance(raw, dict):
            out.append((encode({"index": index, "ok": False,
                                "error": {"field": prefix, "detail": f"{prefix}: expected an object"}}), None, None))
            continue
        try:
            rated = rate(Session.model_validate(raw), job.tariffs, job.customer, job.options)
            view = rated.invoice
            amounts = tuple(getattr(view, name) for name in TOTALS)
            out.append((encode({"index": index, "ok": True, "result": rated.to_dict()}), amounts, view.currency))
        except ValidationError as exc:
            first = field_errors(exc, prefix)[0]
            out.append((encode({"index": index, "ok": False,
                                "error": {"field": first["field"], "detail": first["reason"]}}), None, None))
        except RatingError as exc:
            out.append((encode({"index": index, "ok": False,
                                "error": {"field": f"{prefix}.{exc.field}", "detail": exc.reason}}), None, None))
    return out
