"""Cell layout of the exported workbook: the sheets, their columns, and the formula of every column.

Kept apart from the writer so tests and docs name cells by header (``LINE_COLUMNS``, ``SESSION_COLUMNS``)
instead of hard-coding addresses. Formulas use only functions Excel and LibreOffice share (ROUND, SUM,
SUMIFS, COUNTIFS, COUNTA). ``ROUND(x, 9)`` strips binary float noise from a product (the exact product of
the inputs has far fewer digits) so that halves round up as the core's ROUND_HALF_UP does.

How a session is priced (the rating core's own order, docs/rating.md): each priced period is a row of
the Lines sheet, billed quantity x unit price; a session's net is its lines' sum rounded to OCPI's 4
decimals, then to the currency's minor unit; its gross likewise from the lines' amounts incl. VAT; its VAT
is gross - net.
"""

from __future__ import annotations

TARIFF_SHEET, SESSIONS_SHEET, LINES_SHEET, SUMMARY_SHEET = "Tariff", "Sessions", "Lines", "Summary"

# parameter label -> absolute cell on the Tariff sheet (labels in column A, values in column B)
PARAM_ROWS = ("Tariff id", "Currency", "Decimals", "Rounding", "Step size")
PARAM_CELLS = {label: f"{TARIFF_SHEET}!$B${row}" for row, label in enumerate(PARAM_ROWS, start=2)}
DEC = PARAM_CELLS["Decimals"]

# (header, formula template or None for an input value, number format kind)
# {r}: the row; {first}/{last}: the session's first and last row on the Lines sheet. Templates name
# columns by letter so they read like the formulas they make; a test checks the letters match the headers.
Column = tuple[str, str | None, str]
LINE_COLUMNS: tuple[Column, ...] = (
    ("Session id", None, "text"),
    ("Item", None, "text"),
    ("From (local)", None, "date"),
    ("To (local)", None, "date"),
    ("Measured", None, "quantity"),
    ("Billed", None, "quantity"),
    ("Unit", None, "text"),
    ("Unit price", None, "price"),
    ("VAT %", None, "percent"),
    ("Amount excl. VAT", "=ROUND(F{r}*H{r},9)", "exact"),
    ("Amount incl. VAT", "=ROUND(J{r}*(100+I{r})/100,9)", "exact"),
)
SESSION_COLUMNS: tuple[Column, ...] = (
    ("Session id", None, "text"),
    ("Station", None, "text"),
    ("Customer class", None, "text"),
    ("Start (local)", None, "date"),
    ("End (local)", None, "date"),
    ("Energy (kWh)", None, "quantity"),
    ("Priced periods", None, "count"),
    ("Net", "=ROUND(ROUND(SUM(" + LINES_SHEET + "!$J${first}:$J${last}),4)," + DEC + ")", "money"),
    ("VAT", "=ROUND(J{r}-H{r}," + DEC + ")", "money"),  # rounded: a float difference carries noise
    ("Gross", "=ROUND(ROUND(SUM(" + LINES_SHEET + "!$K${first}:$K${last}),4)," + DEC + ")", "money"),
)


def letters(columns: tuple[Column, ...]) -> dict[str, str]:
    """Header -> column letter (A, B, ...)."""
    return {header: chr(ord("A") + i) for i, (header, _, _) in enumerate(columns)}


LINE = letters(LINE_COLUMNS)
COLUMN = letters(SESSION_COLUMNS)
MONEY_HEADERS = ("Net", "VAT", "Gross")

# Summary sheet: totals block (label, Sessions header or "count"), then one block per grouping.
TOTALS = (("Sessions", "count"), ("Energy (kWh)", "Energy (kWh)"), ("Net", "Net"), ("VAT", "VAT"),
          ("Gross", "Gross"))
GROUP_VALUES = TOTALS
GROUPINGS = (("Station", "Station"), ("Customer class", "Customer class"))


def line_formula(template: str, row: int) -> str:
    return template.format(r=row)


def session_formula(template: str, row: int, first: int, last: int) -> str:
    """A Sessions cell; ``first``..``last`` are the session's rows on the Lines sheet."""
    return template.format(r=row, first=first, last=last)
