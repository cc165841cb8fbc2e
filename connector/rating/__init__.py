"""The rating core: a pure function from (session or CDR, tariff(s), customer, options) to a price.

No I/O and no clock: the same call gives the interim cost (``options.as_of``) and the final cost.
"""

from connector.rating.engine import RatingError, rate, select_tariff
from connector.rating.options import RatingLimits, RatingOptions, StepSizePolicy, TariffSwitchPolicy
from connector.rating.result import Amount, InvoiceLine, InvoiceView, PricedLine, RatedSession, TaxTotal

__all__ = [
    "Amount", "InvoiceLine", "InvoiceView", "PricedLine", "RatedSession", "RatingError", "RatingLimits",
    "RatingOptions",
    "StepSizePolicy", "TariffSwitchPolicy", "TaxTotal", "rate", "select_tariff",
]
