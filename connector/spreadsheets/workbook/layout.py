"""Cell layout of the exported workbook: where every input sits and the formula of every column.

Kept apart from the writer so tests and docs can name cells (``PARAM_CELLS``, ``SESSION_COLUMNS``)
instead of hard-coding addresses. Formulas use only functions Excel and LibreOffice share (LOOKUP,
CEILING, ROUND, HOUR, MINUTE, SUM, SUMIFS, COUNTIFS): no LET/XLOOKUP, which LibreOffice 7.4 lacks.
``ROUND(x, 9)`` before the money ROUND strips binary float noise (inputs have at most 4 decimals, so
the exact product has at most 9) so that halves round up as the core's ROUND_HALF_UP does.
"""

from __future__ import annotations

TARIFF_SHEET, SESSIONS_SHEET, SUMMARY_SHEET = "Tariff", "Sessions", "Summary"

BAND_HEADERS = ("From minute", "From", "To", "Element", "Energy price per kWh", "Energy step (Wh)")

# parameter label -> cell on the Tariff sheet (values in column I, labels in column H)
PARAM_ROWS = ("Tariff id", "Currency", "Decimals", "VAT %", "Flat fee", "Time price per h", "Time step (s)",
              "Rounding", "Step size")
PARAM_CELLS = {label: f"{TARIFF_SHEET}!$I${row}" for row, label in enumerate(PARAM_ROWS, start=2)}
DEC, VAT, FLAT = PARAM_CELLS["Decimals"], PARAM_CELLS["VAT %"], PARAM_CELLS["Flat fee"]
TIME_PRICE, TIME_STEP = PARAM_CELLS["Time price per h"], PARAM_CELLS["Time step (s)"]

EXACT_NET = "K{r}*I{r}+N{r}*" + TIME_PRICE + "/3600+" + FLAT

# (column letter, header, formula template or None for an input value); {r} is the row number,
# {bands} the band table rows "$A$2:$A$n" etc. are filled in by ``session_formula``.
SESSION_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("A", "Session id", None),
    ("B", "Station", None),
    ("C", "Customer class", None),
    ("D", "Start (local)", None),
    ("E", "Start (UTC)", None),
    ("F", "End (UTC)", None),
    ("G", "Energy (kWh)", None),
    ("H", "Minute of day", "=HOUR(D{r})*60+MINUTE(D{r})"),
    ("I", "Energy price", "=LOOKUP(H{r},{from_col},{price_col})"),
    ("J", "Energy step (Wh)", "=LOOKUP(H{r},{from_col},{step_col})"),
    ("K", "Billed energy (kWh)", "=IF(OR(J{r}<=0,G{r}<=0),G{r},CEILING(ROUND(G{r}*1000/J{r},6),1)*J{r}/1000)"),
    ("L", "Energy net", "=ROUND(ROUND(K{r}*I{r},9)," + DEC + ")"),
    ("M", "Duration (s)", "=ROUND((F{r}-E{r})*86400,0)"),
    ("N", "Billed time (s)",
     "=IF(OR(" + TIME_STEP + "<=0,M{r}<=0),M{r},CEILING(ROUND(M{r}/" + TIME_STEP + ",6),1)*" + TIME_STEP + ")"),
    ("O", "Time net", "=ROUND(ROUND(N{r}*" + TIME_PRICE + "/3600,9)," + DEC + ")"),
    ("P", "Flat net", "=ROUND(" + FLAT + "," + DEC + ")"),
    # The core bills the session's exact total rounded once (OCPI 4 decimals, then the currency's):
    # net and gross are rounded from the unrounded lines, VAT is their difference (docs/rating.md).
    ("Q", "Net", "=ROUND(ROUND(ROUND(" + EXACT_NET + ",9),4)," + DEC + ")"),
    ("R", "VAT", "=ROUND(S{r}-Q{r}," + DEC + ")"),
    ("S", "Gross", "=ROUND(ROUND(ROUND((" + EXACT_NET + ")*(100+" + VAT + ")/100,9),4)," + DEC + ")"),
)
COLUMN = {header: letter for letter, header, _ in SESSION_COLUMNS}
MONEY_HEADERS = ("Energy net", "Time net", "Flat net", "Net", "VAT", "Gross")

# Summary sheet: totals block, then one block per grouping column (header, Sessions column letter)
TOTALS = (("Sessions", "count"), ("Energy (kWh)", "G"), ("Billed energy (kWh)", "K"), ("Net", "Q"),
          ("VAT", "R"), ("Gross", "S"))
GROUP_VALUES = (("Sessions", "count"), ("Energy (kWh)", "G"), ("Net", "Q"), ("VAT", "R"), ("Gross", "S"))
GROUPINGS = (("Station", "B"), ("Customer class", "C"))


def session_formula(template: str, row: int, band_count: int) -> str:
    """The formula of one Sessions cell; band lookups are absolute ranges on the Tariff sheet."""
    last = band_count + 1
    return template.format(
        r=row,
        from_col=f"{TARIFF_SHEET}!$A$2:$A${last}",
        price_col=f"{TARIFF_SHEET}!$E$2:$E${last}",
        step_col=f"{TARIFF_SHEET}!$F$2:$F${last}",
    )
