"""The tariffs whose session totals plain spreadsheet formulas reproduce exactly.

The rating core cuts each session into priced periods (time-of-day bands, midnight, step sizes); the
workbook lists those periods as rows and recomputes every amount and total from them with ordinary
formulas, so any session of a supported tariff exports, whichever bands it crosses. Refused (with a
``WorkbookError`` naming the field), because their totals are not sums of the periods:

- ``min_price`` / ``max_price``: the cap rescales the session total;
- ``x_taxes`` (named, possibly compound taxes): levied on rounded nets per rate, not per period.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.models.tariff import Tariff
from connector.money import minor_units
from connector.validation import FieldError


class WorkbookError(FieldError):
    """Input the workbook formulas cannot price; ``field`` names the culprit, ``reason`` the feature."""


@dataclass(frozen=True, slots=True)
class WorkbookTariff:
    """A tariff the workbook can price, with its currency's minor-unit digits."""

    tariff: Tariff
    decimals: int


def workbook_tariff(tariff: Tariff) -> WorkbookTariff:
    """Check ``tariff`` against what the formulas reproduce."""
    for name in ("min_price", "max_price", "x_taxes"):
        if getattr(tariff, name):
            raise WorkbookError(f"tariff.{name}", "not supported by the workbook formulas (the session total "
                                "is not the sum of its priced periods)")
    return WorkbookTariff(tariff=tariff, decimals=minor_units(tariff.currency))
