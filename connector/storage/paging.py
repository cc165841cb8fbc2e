"""Keyset paging: the rows after a given row in a list's order, so a page never skips or repeats a row when
others are added meanwhile (which offsets do). The API wraps the last row's id in an opaque cursor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session as DbSession


class UnknownCursor(LookupError):
    """The row a cursor points at is not (or no longer) in the tenant's list."""


def after_row(db: DbSession, query: Select[Any], order: Sequence[tuple[InstrumentedAttribute[Any], bool]],
              key: InstrumentedAttribute[Any], tenant: InstrumentedAttribute[Any], tenant_id: str,
              last_id: str | None) -> Select[Any]:
    """``query`` ordered by ``order`` ((column, descending) pairs, then ``key`` ascending) and, with
    ``last_id``, narrowed to the rows after that row."""
    ordered = query.order_by(*[c.desc() if desc else c.asc() for c, desc in order], key.asc())
    if last_id is None:
        return ordered
    found = db.execute(select(key, *[c for c, _ in order]).where(tenant == tenant_id, key == last_id)).first()
    if found is None:
        raise UnknownCursor(last_id)
    values = tuple(found)[1:]
    # (a, b, id) after (va, vb, vid): a beyond va, or a equal and b beyond vb, or ... and id beyond vid
    terms = [*[(c, desc, v) for (c, desc), v in zip(order, values, strict=True)], (key, False, last_id)]
    after: ColumnElement[bool] = false()
    for i, (column, desc, value) in enumerate(terms):
        equal = [c == v for c, _, v in terms[:i]]
        beyond = column < value if desc else column > value
        after = or_(after, and_(*equal, beyond))
    return ordered.where(after)
