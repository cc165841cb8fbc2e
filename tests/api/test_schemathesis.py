"""Property-based contract test: Schemathesis generates requests from openapi.yaml (20 examples per
operation, derandomized); no 5xx, and every status, content type and body must match the spec."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import TARIFF, A, make_app

DB = Path(tempfile.mkdtemp(prefix="evbill-schemathesis-")) / "api.db"
# the ingest blueprints' own settings, so they answer as configured (401 on a bad signature/token, not 503)
APP = make_app(f"sqlite:///{DB}", CHARGEPOINT_WEBHOOK_SECRET="cp-secret", CHARGEPOINT_TENANT_ID="A",
               OCPI_TOKENS={"ocpi-token": "A"})
_seed = APP.test_client()
_seed.post("/v1/tariffs", json=TARIFF, headers=A)
_seed.post("/v1/customers", json={"id": "C-1"}, headers=A)

schema = schemathesis.from_wsgi("/openapi.json", APP, headers=A)

CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=20, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_api_matches_its_contract(case):
    response = case.call_and_validate(headers=A, checks=CHECKS)
    assert response.status_code < 500
