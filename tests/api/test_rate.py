"""POST /v1/rate and /v1/rate/batch: exact money, errors as problem+json naming the field."""

from __future__ import annotations

from tests.api.conftest import SESSION, TARIFF, A, assert_problem, make_app


def test_rate_inline_tariff(client):
    r = client.post("/v1/rate", json={"session": SESSION, "tariff": TARIFF}, headers=A)
    assert r.status_code == 200, r.text
    body = r.get_json()
    assert body["session_id"] == "S-1" and body["final"] is True
    assert body["total_cost"] == {"excl_vat": "3.0000", "incl_vat": "3.5700"}
    inv = body["invoice"]
    assert (inv["net_total"], inv["tax_total"], inv["gross_total"], inv["amount_due"]) == ("3.00", "0.57", "3.57", "3.57")


def test_rate_stored_tariff_and_customer_class(client):
    tariff = {**TARIFF, "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.20", "vat": "19"}],
         "restrictions": {"x_customer_classes": ["fleet"]}},
        *TARIFF["elements"]]}
    assert client.post("/v1/tariffs", json=tariff, headers=A).status_code == 201
    assert client.post("/v1/customers", json={"id": "C-1", "customer_class": "fleet"}, headers=A).status_code == 201
    public = client.post("/v1/rate", json={"session": SESSION, "tariff_id": "T-EUR"}, headers=A).get_json()
    fleet = client.post("/v1/rate", json={"session": SESSION, "tariff_id": "T-EUR", "customer_id": "C-1"},
                        headers=A).get_json()
    by_class = client.post("/v1/rate", json={"session": SESSION, "tariff_id": "T-EUR", "customer_class": "fleet"},
                           headers=A).get_json()
    assert public["invoice"]["amount_due"] == "3.57"
    assert fleet["invoice"]["amount_due"] == by_class["invoice"]["amount_due"] == "2.38"  # 2.00 + 19 %


def test_rate_cdr(client):
    cdr = {"id": "CDR-1", "start_date_time": "2026-01-13T14:00:00Z", "end_date_time": "2026-01-13T15:00:00Z",
           "currency": "EUR", "charging_periods": [
               {"start_date_time": "2026-01-13T14:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 10}]}]}
    r = client.post("/v1/rate", json={"cdr": cdr, "tariff": TARIFF}, headers=A)
    assert r.status_code == 200, r.text
    assert r.get_json()["invoice"]["gross_total"] == "3.57"


def test_rate_options_interim(client):
    ongoing = {**SESSION, "end": None, "meter_samples": [["2026-01-13T14:00:00Z", 0], ["2026-01-13T14:30:00Z", 5]]}
    r = client.post("/v1/rate", json={"session": ongoing, "tariff": TARIFF,
                                      "options": {"as_of": "2026-01-13T14:30:00Z", "rounding": "line_half_even"}},
                    headers=A)
    assert r.status_code == 200, r.text
    body = r.get_json()
    assert body["final"] is False and body["invoice"]["net_total"] == "1.50"
    assert body["invoice"]["rounding_policy"] == "line_half_even"


def test_rate_errors_name_the_field(client):
    bad = {**SESSION, "end": "2026-01-13T13:00:00Z"}
    assert_problem(client.post("/v1/rate", json={"session": bad, "tariff": TARIFF}, headers=A), 422, "session.end")
    assert_problem(client.post("/v1/rate", json={"session": {**SESSION, "energy_kwh": "x"}, "tariff": TARIFF},
                               headers=A), 422, "session.energy_kwh")
    assert_problem(client.post("/v1/rate", json={"session": SESSION, "tariff": {**TARIFF, "currency": "EURO"}},
                               headers=A), 422, "tariff.currency")
    assert_problem(client.post("/v1/rate", json={"session": SESSION, "tariff": TARIFF,
                                                 "options": {"rounding": "up"}}, headers=A), 422, "options.rounding")
    assert_problem(client.post("/v1/rate", json={"session": SESSION, "tariff_id": "nope"}, headers=A), 404)
    assert_problem(client.post("/v1/rate", json={"tariff": TARIFF}, headers=A), 422, "session")
    assert_problem(client.post("/v1/rate", json={"session": SESSION}, headers=A), 422, "tariff")
    assert_problem(client.post("/v1/rate", json={"session": {**SESSION, "currency": "USD"}, "tariff": TARIFF},
                               headers=A), 422, "session.currency")
    assert_problem(client.post("/v1/rate", data="not json", headers={**A, "Content-Type": "text/plain"}), 415)
    assert_problem(client.post("/v1/rate", data="{", headers={**A, "Content-Type": "application/json"}), 400)
    assert_problem(client.post("/v1/rate", json=[1], headers=A), 400, "body")


def test_http_errors_are_problems(client):
    assert_problem(client.get("/v1/nowhere", headers=A), 404)
    r = client.get("/v1/rate", headers=A)
    assert_problem(r, 405)
    assert "POST" in r.headers["Allow"]


def test_body_size_limit(sqlite_url):
    client = make_app(sqlite_url, MAX_BODY_BYTES=2000).test_client()
    r = client.post("/v1/rate", json={"session": SESSION, "tariff": TARIFF, "pad": "x" * 5000}, headers=A)
    assert_problem(r, 413)


def test_unexpected_error_leaks_nothing(app):
    @app.get("/v1/boom")
    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    r = app.test_client().get("/v1/boom", headers=A)
    body = assert_problem(r, 500)
    assert "secret" not in r.get_data(as_text=True) and "RuntimeError" not in str(body)


def test_batch_shape_and_totals(client):
    sessions = [SESSION, {**SESSION, "id": "S-2", "energy_kwh": "20"}, {**SESSION, "id": "S-3", "end": "bad"},
                {**SESSION, "id": "S-4", "energy_kwh": "1"}]
    r = client.post("/v1/rate/batch", json={"sessions": sessions, "tariff": TARIFF}, headers=A)
    assert r.status_code == 200, r.text
    body = r.get_json()
    assert body["count"] == 4
    assert [x["index"] for x in body["results"]] == [0, 1, 2, 3]
    assert [x["ok"] for x in body["results"]] == [True, True, False, True]
    assert body["results"][2]["error"]["field"] == "sessions[2].end"
    assert body["results"][2]["error"]["detail"]
    assert body["results"][1]["result"]["invoice"]["amount_due"] == "7.14"
    # 3.57 + 7.14 + 0.36 (0.30 net + 0.057 VAT -> 0.06)
    assert body["totals"] == {"currency": "EUR", "net_total": "9.30", "tax_total": "1.77", "gross_total": "11.07",
                              "amount_due": "11.07"}


def test_batch_limit(sqlite_url):
    client = make_app(sqlite_url, BATCH_MAX_SESSIONS=3).test_client()
    r = client.post("/v1/rate/batch", json={"sessions": [SESSION] * 4, "tariff": TARIFF}, headers=A)
    assert_problem(r, 413, "sessions")


def test_batch_over_10000_rejected(client):
    sessions = [{**SESSION, "id": f"S{i}"} for i in range(10000)]
    r = client.post("/v1/rate/batch", json={"sessions": [*sessions, SESSION], "tariff": TARIFF}, headers=A)
    assert_problem(r, 413, "sessions")
