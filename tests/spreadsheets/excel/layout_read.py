"""Read values back from a recalculated workbook by the writer's own layout (no hard-coded columns)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connector.spreadsheets.workbook import layout as L


def gross_column(book: Any, count: int) -> list[Decimal]:
    """The Gross cell of each Sessions row, as the Decimal of the number LibreOffice computed."""
    letter = L.COLUMN["Gross"]
    sheet = book[L.SESSIONS_SHEET]
    return [Decimal(repr(sheet[f"{letter}{r}"].value)) for r in range(2, count + 2)]
