"""Plausible bad input gets a 4xx problem naming the field, never a 500 from the database or the parser:
NUL bytes (PostgreSQL text cannot hold them), lone surrogates, strings longer than their column, deep JSON,
mistyped invoice-action members, a reconciliation at the calendar's edge. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from connector.models.limits import CUSTOMER_CLASS_MAX, CUSTOMER_NAME_MAX, STATION_ID_MAX, TARIFF_ID_MAX
from tests.api.conftest import A, assert_problem, make_app

JSON = {**A, "Content-Type": "application/json"}


def _end(**session: Any) -> dict[str, Any]:
    return {"event_id": "E-BAD:end", "type": "end", "session_id": "S-BAD", "timestamp": "2026-01-13T15:00:00Z",
            "session": {"start": "2026-01-13T14:00:00Z", "end": "2026-01-13T15:00:00Z", "energy_kwh": "10",
                        **session}}


# (method, path, body: dict (JSON) | str (raw JSON text) | None, status, field)
CASES: list[tuple[str, str, Any, int, str]] = [
    ("GET", "/v1/sessions/S%00X", None, 400, "session_id"),
    ("GET", "/v1/customers/C%00X", None, 400, "customer_id"),
    ("GET", "/v1/invoices/inv%00", None, 400, "invoice_id"),
    ("GET", "/v1/sessions?station_id=ST%001", None, 400, "station_id"),
    ("GET", "/v1/invoices?customer_id=C%00", None, 400, "customer_id"),
    ("POST", "/v1/customers", {"id": "C\x00"}, 400, "id"),
    ("POST", "/v1/customers", '{"id": "C-S", "name": "Ada \\ud800"}', 400, "name"),
    ("POST", "/v1/customers", {"id": "C-L", "name": "n" * (CUSTOMER_NAME_MAX + 1)}, 422, "name"),
    ("POST", "/v1/customers", {"id": "C-K", "customer_class": "c" * (CUSTOMER_CLASS_MAX + 1)}, 422, "customer_class"),
    ("POST", "/v1/sessions/events", _end(station_id="s" * (STATION_ID_MAX + 1)), 422, "session.station_id"),
    ("POST", "/v1/sessions/events", _end(tariff_id="t" * (TARIFF_ID_MAX + 1)), 422, "session.tariff_id"),
    ("POST", "/v1/sessions/events", _end(station_id="ST\x001"), 400, "session.station_id"),
    ("POST", "/v1/customers", "[" * 100_000 + "]" * 100_000, 400, "body"),
    ("POST", "/v1/customers", '{"id": ' + "[" * 100 + "]" * 100 + "}", 400, "id"),
    ("POST", "/v1/invoices/inv_x/void", {"reason": {"why": "x"}}, 422, "reason"),
    ("POST", "/v1/invoices/inv_x/credit-notes", {"reason": 7}, 422, "reason"),
    ("POST", "/v1/invoices/inv_x/mark-paid", {"reference": ["r"]}, 422, "reference"),
    ("POST", "/v1/invoices/inv_x/mark-paid", {"reference": "r" * 201}, 422, "reference"),
    ("POST", "/v1/reconciliations", {"kind": "daily", "period": "9999-12-31"}, 422, "period"),
    ("POST", "/v1/reconciliations", {"kind": "monthly", "period": "0001-01"}, 422, "period"),
]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bad_client(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('bad') / 'api.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    return make_app(url).test_client()


@pytest.mark.parametrize(("method", "path", "body", "status", "field"), CASES,
                         ids=[f"{c[0]} {c[1]} {c[4]}" for c in CASES])
def test_bad_input_is_a_problem_naming_the_field(bad_client, method, path, body, status, field):
    if isinstance(body, str):
        response = bad_client.open(path, method=method, data=body.encode("utf-8"), headers=JSON)
    else:
        response = bad_client.open(path, method=method, json=body, headers=A)
    assert_problem(response, status, field)


def test_nul_in_an_idempotency_key_is_refused(bad_client):
    r = bad_client.post("/v1/customers", json={"id": "C-IK"}, headers={**A, "Idempotency-Key": "k\x00"})
    assert_problem(r, 400, "Idempotency-Key")


def test_limits_are_the_columns(bad_client):
    """One source: each model limit is the length of the column that stores it."""
    from connector.models import Customer
    from connector.models.session import Session
    from connector.storage.tables.core import CustomerRow, SessionRow

    assert Customer.model_fields["name"].metadata[0].max_length == CustomerRow.__table__.c.name.type.length
    assert (Customer.model_fields["customer_class"].metadata[0].max_length
            == CustomerRow.__table__.c.customer_class.type.length)
    assert Session.model_fields["station_id"].metadata[0].max_length == SessionRow.__table__.c.station_id.type.length
    assert Session.model_fields["tariff_id"].metadata[0].max_length == SessionRow.__table__.c.tariff_id.type.length
    # at the limit itself everything is stored
    ok = bad_client.post("/v1/customers", json={"id": "C-MAX", "name": "n" * CUSTOMER_NAME_MAX,
                                                "customer_class": "c" * CUSTOMER_CLASS_MAX}, headers=A)
    assert ok.status_code in (201, 409), ok.get_data(as_text=True)


@pytest.mark.parametrize(("raw", "field"), [
    ('{"id": "C-R", "name": "Ada \ud800"}'.encode("utf-8", "surrogatepass"), "name"),  # a raw lone surrogate
    ('{"id": "C-U", "name": "Ada \\u0000"}'.encode("utf-16"), "name"),  # UTF-16, an escaped NUL
    (('{"id": "C-D", "name": "' + "{" * 70 + '", "x": "\\u0000"}').encode(), "x"),  # many brackets, all in text
], ids=["raw surrogate", "utf-16 escaped NUL", "brackets in a string"])
def test_bodies_the_byte_check_cannot_clear_are_still_walked(bad_client, raw, field):
    """The guard skips its walk only for ASCII bodies without a NUL byte, ``\\u`` escape or many brackets."""
    assert_problem(bad_client.post("/v1/customers", data=raw, headers=JSON), 400, field)
