"""Locale-aware formatting for receipts (Babel/CLDR).

Amounts arrive as strings already rounded to the currency's minor unit by the rating core; here we only
*display* them. The number of decimals comes from ``connector.money.minor_units`` (ISO 4217: JPY 0,
KWD 3) so the receipt never shows more or fewer digits than the invoice holds.
"""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import NumberPattern, format_decimal, format_percent, get_currency_symbol

from connector.money import minor_units

DEFAULT_LOCALE = "en_US"


class ReceiptDataError(ValueError):
    """The invoice cannot be rendered; the message names the field and the reason."""


@lru_cache(maxsize=64)
def parse_locale(tag: str | None) -> Locale:
    """``de_DE``, ``de-DE`` or ``de``; unknown or empty tags fall back to en_US (never crash a receipt)."""
    if not tag:
        return Locale.parse(DEFAULT_LOCALE)
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


@lru_cache(maxsize=256)
def _currency_pattern(locale_tag: str, digits: int) -> NumberPattern:
    locale = parse_locale(locale_tag)
    pattern = copy.copy(locale.currency_formats["standard"])
    pattern.frac_prec = (digits, digits)
    return pattern


def to_amount(value: object, field: str) -> Decimal:
    """A money string from the Invoice JSON as Decimal (floats are refused: money is never float)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float) or isinstance(value, bool) or value is None:
        raise ReceiptDataError(f"{field}: expected a decimal string, got {type(value).__name__}")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ReceiptDataError(f"{field}: '{value}' is not a decimal amount") from exc


def format_money(amount: Decimal, currency: str, locale: str | None) -> str:
    """``Decimal('1234.5'), 'EUR', 'de_DE'`` -> ``'1.234,50 €'``; JPY 0 decimals, KWD 3."""
    digits = minor_units(currency)
    loc = parse_locale(locale)
    text = _currency_pattern(str(loc), digits).apply(amount, loc, currency=currency,
                                                                        currency_digits=False)
    return _currency_spacing(text, get_currency_symbol(currency, loc))


def _currency_spacing(text: str, symbol: str) -> str:
    """CLDR ``currencySpacing`` (Babel skips it): a letter symbol next to a digit gets a no-break space,
    so ``KWD1,234.500`` reads ``KWD 1,234.500`` while ``$1.00`` stays as it is."""
    i = text.find(symbol)
    if not symbol or i < 0:
        return text
    j = i + len(symbol)
    if symbol[-1].isalpha() and j < len(text) and text[j].isdigit():
        text = text[:j] + "\xa0" + text[j:]
    if symbol[0].isalpha() and i > 0 and text[i - 1].isdigit():
        text = text[:i] + "\xa0" + text[i:]
    return text


def format_quantity(quantity: Decimal, locale: str | None) -> str:
    """Quantities keep the precision the invoice gives (kWh up to 4 decimals)."""
    return format_decimal(quantity, locale=parse_locale(locale), decimal_quantization=False)


def format_rate(rate: Decimal, locale: str | None) -> str:
    """A tax rate given in percent (``'19'``) as ``'19 %'`` / ``'19%'`` per locale."""
    return format_percent(rate / Decimal(100), locale=parse_locale(locale), decimal_quantization=False)


def format_instant(value: str | None, locale: str | None, time_zone: str | None) -> str:
    if not value:
        return ""
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReceiptDataError(f"issued_at: '{value}' is not an ISO 8601 instant") from exc
    tz = ZoneInfo(time_zone) if time_zone else None
    return format_datetime(instant, format="medium", tzinfo=tz, locale=parse_locale(locale))


def format_day(value: str | None, locale: str | None) -> str:
    if not value:
        return ""
    try:
        day = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReceiptDataError(f"period: '{value}' is not an ISO 8601 date") from exc
    return format_date(day, format="medium", locale=parse_locale(locale))
