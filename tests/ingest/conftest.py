"""Ingest tests: local servers on 127.0.0.1 only, vendor schemas from ../shared/vendor-specs."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from jsonschema import FormatChecker
from jsonschema.validators import validator_for

from connector.models import Tariff
from tests.paths import VENDOR_SPECS

# ENERGY 0.20 EUR/kWh before 10:15 UTC, 0.40 from 10:15; 19 % VAT. Time-of-use makes the price depend
# on *when* energy flowed, so a test can tell real meter samples from a uniform spread.
TOU_TARIFF: dict[str, Any] = {
    "id": "TOU", "currency": "EUR", "country_code": "DE", "party_id": "EVB",
    "last_updated": "2026-01-01T00:00:00Z",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": 19, "step_size": 1}],
         "restrictions": {"start_time": "10:15", "end_time": "12:00"}},
        {"price_components": [{"type": "ENERGY", "price": "0.20", "vat": 19, "step_size": 1}]},
    ],
}


def schema_validator(path: str) -> Any:
    schema = json.loads((VENDOR_SPECS / path).read_text(encoding="utf-8-sig"))
    cls = validator_for(schema)
    return cls(schema, format_checker=FormatChecker())


def assert_valid(path: str, body: dict[str, Any]) -> None:
    errors = sorted(schema_validator(path).iter_errors(body), key=str)
    assert not errors, f"{path}: {[e.message for e in errors]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tou_tariff() -> Tariff:
    return Tariff.model_validate(TOU_TARIFF)


FLAT_TARIFF: dict[str, Any] = {
    "id": "STD", "currency": "EUR", "country_code": "DE", "party_id": "EVB", "last_updated": "2026-01-01T00:00:00Z",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30", "vat": 19, "step_size": 1}]}],
}


@pytest.fixture(params=["memory", "database"])
def flat_sink(request, tmp_path):
    """Every adapter test runs against the in-process sink and the database pipeline (SQLite file)."""
    from tests.ingest.probe import build_sink

    return build_sink(request.param, [Tariff.model_validate(FLAT_TARIFF)], tmp_path)


@pytest.fixture(params=["memory", "database"])
def tou_sink(request, tmp_path):
    from tests.ingest.probe import build_sink

    return build_sink(request.param, [Tariff.model_validate(TOU_TARIFF)], tmp_path)


@pytest.fixture
def ingest_app(flat_sink):
    """The ingest blueprints on a Flask app with an in-process sink (the API app's own tests use create_app)."""
    from flask import Flask

    from connector.api import chargepoint, ocpi
    from connector.api import imports as imports_api
    from connector.api.context import SINK_KEY

    app = Flask("ingest-test")
    app.config.update(OCPI_TOKENS={"ocpi-token-1": "t1"}, CHARGEPOINT_WEBHOOK_SECRET="cp-secret")
    for module in (ocpi, chargepoint, imports_api):
        app.register_blueprint(module.bp)
    app.extensions[SINK_KEY] = flat_sink
    return app
