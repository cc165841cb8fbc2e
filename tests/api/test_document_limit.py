"""API bodies that carry one CDR or session: larger than ``EVBILL_MAX_DOCUMENT_BYTES`` is a 413 before parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connector.api import create_app
from tests.paths import SHARED

SPEC = SHARED / "ocpi/spec-examples/2.2.1"
CDR: dict[str, Any] = json.loads((SPEC / "cdr_example.json").read_text(encoding="utf-8"))
KEY = {"X-API-Key": "k-doc"}
OCPI = {"Authorization": "Token ocpi-doc"}


@pytest.fixture
def make(tmp_path):
    apps = []

    def build(limit: int | None = None) -> Any:
        config: dict[str, Any] = {"DATABASE_URL": f"sqlite:///{tmp_path / 'doc.db'}", "API_KEYS": {"k-doc": "D"},
                                  "OCPI_TOKENS": {"ocpi-doc": "D"}, "TESTING": True}
        if limit is not None:
            config["MAX_DOCUMENT_BYTES"] = limit
        app = create_app(config)
        apps.append(app)
        return app.test_client()

    yield build
    for app in apps:
        app.extensions["evbill.engine"].dispose()


def test_rate_body_over_the_document_limit_is_413_naming_it(make) -> None:
    body = json.dumps({"cdr": CDR}).encode()
    small = make(len(body) - 1)
    r = small.post("/v1/rate", data=body, content_type="application/json", headers=KEY)
    assert r.status_code == 413 and r.headers["Content-Type"].startswith("application/problem+json")
    [error] = r.get_json()["errors"]
    assert error["field"] == "body" and error["reason"] == (
        f"{len(body)} bytes, larger than the limit of {len(body) - 1} bytes for one document")
    fits = make(len(body))
    r = fits.post("/v1/rate", data=body, content_type="application/json", headers=KEY)
    assert r.status_code == 200 and r.get_json()["invoice"]["amount_due"] == "4.40"


def test_ocpi_cdr_over_the_limit_is_an_ocpi_413(make) -> None:
    body = json.dumps(CDR).encode()
    client = make(len(body) - 1)
    r = client.post("/ocpi/2.2.1/cdrs", data=body, content_type="application/json", headers=OCPI)
    assert r.status_code == 413
    answer = r.get_json()
    assert answer["status_code"] == 2001 and "larger than the limit" in answer["status_message"]


def test_default_limit_is_four_mib(make) -> None:
    client = make()
    assert client.application.config["MAX_DOCUMENT_BYTES"] == 4 * 1024 * 1024
    padded = json.dumps({"cdr": CDR, "pad": "x" * (4 * 1024 * 1024)}).encode()
    r = client.post("/v1/rate", data=padded, content_type="application/json", headers=KEY)
    assert r.status_code == 413


@pytest.mark.parametrize(("path", "headers"), [("/v1/rate", KEY), ("/v1/sessions/events", KEY),
                                               ("/ocpi/2.2.1/cdrs", OCPI)])
def test_json_nested_100000_deep_is_a_400_not_a_500(make, path, headers) -> None:
    client = make()
    deep = "[" * 100_000 + "]" * 100_000
    r = client.post(path, data=deep, content_type="application/json", headers=headers)
    assert r.status_code == 400, r.get_data(as_text=True)
