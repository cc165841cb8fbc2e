"""Numbers in answers are written in fixed point (``"100"``, never ``"1E+2"``): Decimals through the app's JSON
provider, and the decimals a client sent in exponent form and the session document keeps as given."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask.json.provider import DefaultJSONProvider

NUMERIC_KEYS = frozenset({"energy_kwh", "power_kw", "current_a"})  # decimals of a session document and its samples


def fixed_point(value: Any) -> Any:
    """``"1E+2"`` -> ``"100"``; any other value as it is."""
    if isinstance(value, str) and "e" in value.lower():
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value
        return format(number, "f") if number.is_finite() else value
    return value


class FixedPointJson(DefaultJSONProvider):
    """Flask's JSON, with a Decimal written in fixed point."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return format(o, "f")
        return DefaultJSONProvider.default(o)
