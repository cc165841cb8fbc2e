"""Sheets tests: a time-of-use tariff with a fleet price, the real API app on a temp SQLite file."""

from __future__ import annotations

from typing import Any

import pytest

from connector.api import create_app

KEY_A, KEY_B = "sheets-key-a", "sheets-key-b"
A = {"X-API-Key": KEY_A}
B = {"X-API-Key": KEY_B}

# 08:00-20:00 local: 0.40 EUR/kWh, otherwise 0.20; customer class "fleet": 0.25 all day; 19 % VAT.
TOU: dict[str, Any] = {
    "id": "T-TOU", "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.25", "vat": "19", "step_size": 1}],
         "restrictions": {"x_customer_classes": ["fleet"]}},
        {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "19", "step_size": 1}],
         "restrictions": {"start_time": "08:00", "end_time": "20:00"}},
        {"price_components": [{"type": "ENERGY", "price": "0.20", "vat": "19", "step_size": 1}]},
    ],
}


def make_app(url: str, **extra: Any) -> Any:
    return create_app({"DATABASE_URL": url, "API_KEYS": {KEY_A: "A", KEY_B: "B"}, "TESTING": True, **extra})


@pytest.fixture
def app(tmp_path) -> Any:
    application = make_app(f"sqlite:///{tmp_path / 'sheets.db'}")
    response = application.test_client().post("/v1/tariffs", json=TOU, headers=A)
    assert response.status_code == 201, response.get_data(as_text=True)
    return application


@pytest.fixture
def client(app) -> Any:
    return app.test_client()
