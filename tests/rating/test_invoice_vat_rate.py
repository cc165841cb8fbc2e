"""The invoice's VAT rate is the tariff's own, not one cached from an earlier rating (regression)."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.models import Session, Tariff
from connector.rating import rate


def test_an_invoice_prints_its_own_tariffs_vat_whatever_was_rated_before() -> None:
    def rated_vat(vat: str) -> str:
        tariff = Tariff.model_validate({"id": "V", "currency": "EUR", "elements": [
            {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": vat, "step_size": 1}]}]})
        session = Session(id="s", start=datetime(2026, 1, 5, tzinfo=UTC), end=datetime(2026, 1, 5, 1, tzinfo=UTC),
                          energy_kwh="10")
        return rate(session, tariff).invoice.to_dict()["taxes"][0]["rate"]

    assert rated_vat("12.50") == "12.50"
    assert rated_vat("12.5") == "12.5"  # equal as numbers: it must not reuse the first tariff's rate
