"""min_price / max_price (OCPI ``Tariff``): applied after summation, on each VAT basis on its own.

A limit without ``incl_vat`` still limits the incl-VAT total: the incl side is derived from the VAT of
the session's own components (docs/rating.md, "Caps"), so ``excl <= incl`` whenever every VAT >= 0.
"""

from __future__ import annotations

from decimal import Decimal

from connector.models.common import Price
from connector.models.tariff import Tariff
from connector.rating.result import Amount

HUNDRED = Decimal(100)
# The incl/excl ratio is taken to 20 places: the totals are 28-digit sums of repeating fractions (a minute
# is 1/60 h), so 0.45 × 1.077 came out as 0.48464999… and a half-way point rounded the wrong way.
RATIO_PLACES = Decimal("1e-20")


def fallback_vat(tariff: Tariff) -> Decimal | None:
    """The VAT a cap uses when the session priced nothing to take a ratio from: the highest VAT of the
    tariff's components (None when none carries a VAT). The invoice puts such a cap line under it too."""
    rates = [c.vat for e in tariff.expanded_elements() for c in e.price_components if c.vat is not None]
    return max(rates) if rates else None


def _incl_limit(limit: Price, total: Amount, tariff: Tariff) -> Decimal:
    """A cap's incl-VAT side: as given, else derived from the session's own VAT (docs/rating.md): the
    limit's excl_vat × the effective ratio incl/excl of the uncapped totals, or × (1 + fallback VAT)."""
    if limit.incl_vat is not None:
        return limit.incl_vat
    if total.excl_vat != 0:
        return limit.excl_vat * (total.incl_vat / total.excl_vat).quantize(RATIO_PLACES)
    vat = fallback_vat(tariff)
    return limit.excl_vat if vat is None else limit.excl_vat * (HUNDRED + vat) / HUNDRED


def apply_caps(total: Amount, tariff: Tariff) -> tuple[Amount, str | None]:
    """OCPI: min/max_price hold on the excl- and the incl-VAT total independently."""
    excl, incl, applied = total.excl_vat, total.incl_vat, None
    lo, hi = tariff.min_price, tariff.max_price
    if lo is not None:
        lo_incl = _incl_limit(lo, total, tariff)
        if excl < lo.excl_vat:
            excl, applied = lo.excl_vat, "min_price"
        if incl < lo_incl:
            incl, applied = lo_incl, "min_price"
    if hi is not None:
        hi_incl = _incl_limit(hi, total, tariff)
        if excl > hi.excl_vat:
            excl, applied = hi.excl_vat, "max_price"
        if incl > hi_incl:
            incl, applied = hi_incl, "max_price"
    return Amount(excl, incl), applied
