"""POST /v1/rate refuses what no charger sends with a 422 naming the field (never a 500): energy in no
time, absurd values, a CDR priced in another currency, sessions longer than EVBILL_MAX_SESSION_DAYS."""

from __future__ import annotations

from tests.api.conftest import SESSION, TARIFF, A, assert_problem, make_app


def test_values_no_charger_sends_are_422(client):
    def post(session=None, tariff=None, **extra):
        return client.post("/v1/rate", json={"session": session or SESSION, "tariff": tariff or TARIFF, **extra},
                           headers=A)

    assert_problem(post({**SESSION, "end": SESSION["start"]}), 422, "session.energy_kwh")
    assert_problem(post({**SESSION, "charging_ended_at": SESSION["start"]}), 422, "session.charging_ended_at")
    assert_problem(post({**SESSION, "energy_kwh": "-5"}), 422, "session.energy_kwh")
    assert_problem(post({**SESSION, "energy_kwh": "1e28"}), 422, "session.energy_kwh")
    big = {**TARIFF, "elements": [{"price_components": [{"type": "ENERGY", "price": "1e25", "step_size": 1}]}]}
    assert_problem(post(tariff=big), 422, "tariff.elements[0].price_components[0].price")
    assert_problem(post({**SESSION, "start": "1970-01-01T00:00:00Z"}), 422, "session.end")


def test_cdr_in_another_currency_is_422(client):
    cdr = {"id": "CDR-1", "start_date_time": "2026-01-13T14:00:00Z", "end_date_time": "2026-01-13T15:00:00Z",
           "currency": "USD", "charging_periods": [
               {"start_date_time": "2026-01-13T14:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 10}]}]}
    assert_problem(client.post("/v1/rate", json={"cdr": cdr, "tariff": TARIFF}, headers=A), 422, "cdr.currency")


def test_the_session_length_bound_is_configured(sqlite_url):
    app = make_app(sqlite_url, MAX_SESSION_DAYS=1)
    two_days = {**SESSION, "start": "2026-01-11T14:00:00Z"}
    with app.test_client() as client:
        body = assert_problem(client.post("/v1/rate", json={"session": two_days, "tariff": TARIFF}, headers=A), 422,
                              "session.end")
        assert "limit is 1 days" in body["detail"]
