"""OCPI 2.2.1 both roles against an independent implementation (extrawest-ocpi) run as the partner on
127.0.0.1: the credentials handshake in both directions, the partner's tariff pricing its CDR here, and our
rated CDR pushed back through the outbox once after a simulated outage."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from connector.api import create_app
from connector.events import worker
from connector.platforms.errors import RetryableError
from connector.platforms.sender import HttpSender
from connector.storage.tables.core import SessionRow, TariffRow
from connector.storage.tables.ocpi import OcpiPartnerRow
from tests.ocpi.partner import Partner, partner  # noqa: F401  (fixture)

KEY = "test-key-a"
TOKEN_KEY = Fernet.generate_key().decode()
TARIFF = {"country_code": "NL", "party_id": "PTN", "id": "T1", "currency": "EUR",
          "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]}],
          "last_updated": "2026-11-01T00:00:00Z"}
CDR = {"country_code": "NL", "party_id": "PTN", "id": "CDR-1", "start_date_time": "2026-11-30T10:00:00Z",
       "end_date_time": "2026-11-30T11:00:00Z", "session_id": "S-1",
       "cdr_token": {"country_code": "NL", "party_id": "PTN", "uid": "RFID-1", "type": "RFID",
                     "contract_id": "NL-PTN-C1"},
       "auth_method": "WHITELIST",
       "cdr_location": {"id": "LOC1", "address": "Main 1", "city": "Utrecht", "country": "NLD",
                        "coordinates": {"latitude": "52.090000", "longitude": "5.120000"}, "evse_uid": "E1",
                        "evse_id": "NL*PTN*E1", "connector_id": "1", "connector_standard": "IEC_62196_T2",
                        "connector_format": "SOCKET", "connector_power_type": "AC_3_PHASE"},
       "currency": "EUR", "tariffs": [TARIFF],
       "charging_periods": [{"start_date_time": "2026-11-30T10:00:00Z",
                             "dimensions": [{"type": "ENERGY", "volume": 10.0}]}],
       "total_cost": {"excl_vat": 9.99, "incl_vat": 9.99}, "total_energy": 10.0, "total_time": 1.0,
       "last_updated": "2026-11-30T11:00:00Z"}

SESSION = {"country_code": "NL", "party_id": "PTN", "id": "S-1", "start_date_time": "2026-11-30T10:00:00Z",
           "kwh": 4.0, "cdr_token": CDR["cdr_token"], "auth_method": "WHITELIST", "location_id": "LOC1",
           "evse_uid": "E1", "connector_id": "1", "currency": "EUR", "status": "ACTIVE",
           "charging_periods": [{"start_date_time": "2026-11-30T10:00:00Z", "tariff_id": "T1",
                                 "dimensions": [{"type": "ENERGY", "volume": 4.0}]}],
           "total_cost": {"excl_vat": 7.77, "incl_vat": 7.77}, "last_updated": "2026-11-30T10:30:00Z"}


class Server:
    def __init__(self, url: str, engine: Any) -> None:
        self.url, self.engine = url, engine

    def post(self, path: str, body: Any = None) -> requests.Response:
        return requests.post(self.url + path, json=body, headers={"X-API-Key": KEY}, timeout=30)


@pytest.fixture
def ours(tmp_path: Any) -> Iterator[Server]:
    db_url = f"sqlite:///{tmp_path / 'ocpi.db'}"
    app = create_app({"DATABASE_URL": db_url, "API_KEYS": {KEY: "A"}, "CREATE_TABLES": True,
                      "OCPI_TOKEN_KEY": TOKEN_KEY, "OCPI_COUNTRY_CODE": "NL", "OCPI_PARTY_ID": "EVB"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{server.server_port}", create_engine(db_url))
    finally:
        server.shutdown()


def test_we_register_with_the_partner_then_unregister(ours: Server, partner: Partner) -> None:  # noqa: F811
    ours.post("/v1/tariffs", {**TARIFF, "id": "OUR-1", "party_id": "EVB"}).raise_for_status()
    invite = partner.post("/control/token-a")
    r = ours.post("/v1/ocpi/partners", {"versions_url": invite["versions_url"], "token": invite["token"]})
    assert r.status_code == 201, r.text
    body = r.json()
    # our tariffs were PUT to its tariffs receiver (py_ocpi validated them with its own Tariff schema)
    assert body["tariffs_published"] == 1
    [published] = partner.state()["objects"]["tariffs"].values()
    assert (published["party_id"], published["id"], published["currency"]) == ("evb", "our-1", "EUR")
    assert published["elements"][0]["price_components"][0]["price"] == 0.25
    assert body["status"] == "registered" and (body["country_code"], body["party_id"]) == ("NL", "PTN")
    assert "token" not in body
    state = partner.state()
    # the partner (py_ocpi's credentials POST) read our versions and version details with our token B
    [client] = [c for c in state["clients"].values() if c["theirs"]["url"].startswith(ours.url)]
    assert client["theirs"]["url"] == ours.url + "/ocpi/versions"
    assert {e["identifier"] for e in client["endpoints"]["endpoints"]} >= {"credentials", "cdrs", "tariffs"}
    assert {r["role"] for r in client["theirs"]["roles"]} == {"CPO", "EMSP"}
    with Session(ours.engine) as db:
        row = db.scalars(select(OcpiPartnerRow)).one()
        token_c = Fernet(TOKEN_KEY.encode()).decrypt(row.outbound_token.encode()).decode()
        assert token_c in state["token_c"] and token_c not in row.outbound_token  # encrypted at rest
        assert row.inbound_token_hash and len(row.inbound_token_hash) == 64  # hashed at rest
    # a tariff changed after registration is published again on request
    ours.post("/v1/tariffs", {**TARIFF, "id": "OUR-2", "party_id": "EVB"}).raise_for_status()
    again = ours.post(f"/v1/ocpi/partners/{body['id']}/tariffs")
    assert again.status_code == 200 and again.json()["tariffs_published"] == 2
    assert sorted(t["id"] for t in partner.state()["objects"]["tariffs"].values()) == ["our-1", "our-2"]
    r = requests.delete(f"{ours.url}/v1/ocpi/partners/{body['id']}", headers={"X-API-Key": KEY}, timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "unregistered"
    assert token_c not in partner.state()["token_c"]  # py_ocpi's DELETE credentials removed us
    assert ours.post(f"/v1/ocpi/partners/{body['id']}/tariffs").status_code == 409


class Outage:
    """The partner is unreachable for the first ``down`` calls (a refused connection), then reachable."""

    def __init__(self, down: int) -> None:
        self.down, self.calls = down, 0
        self.inner = HttpSender(target="ocpi")

    def send(self, method: str, url: str, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.down:
            raise RetryableError(f"connection refused by {url} (simulated outage)")
        return self.inner.send(method, url, **kwargs)


def test_partner_registers_its_tariff_rates_its_cdr_and_our_cdr_reaches_it_once(
        ours: Server, partner: Partner) -> None:  # noqa: F811
    invite = ours.post("/v1/ocpi/partners").json()
    assert invite["status"] == "invited" and invite["our_versions_url"] == ours.url + "/ocpi/versions"
    reg = partner.post("/control/register", {"versions_url": invite["our_versions_url"], "token": invite["token"]})
    assert reg["http"] == 200 and reg["body"]["status_code"] == 1000, reg
    token_c = reg["body"]["data"]["token"]
    assert token_c != invite["token"]
    # token A is spent: a second registration with it is refused
    spent = requests.get(invite["our_versions_url"], timeout=30, headers={
        "Authorization": "Token " + base64.b64encode(invite["token"].encode()).decode()})
    assert spent.status_code == 401 and spent.json()["status_code"] == 2000
    # the partner pushes its tariff and a CDR with py_ocpi's own push client (GET our details, PUT, POST)
    partner.put("/control/outgoing/tariffs/T1", TARIFF)
    partner.put("/control/outgoing/cdrs/CDR-1", CDR)
    partner.put("/control/outgoing/sessions/S-1", SESSION)
    receivers = [{"endpoints_url": ours.url + "/ocpi/2.2.1", "auth_token": token_c}]
    auth = {"Authorization": "Token " + base64.b64encode(reg["token_b"].encode()).decode()}
    answers = {}
    for module, object_id in (("tariffs", "T1"), ("sessions", "S-1"), ("cdrs", "CDR-1")):
        pushed = requests.post(partner.base + "/push/2.2.1", headers=auth, timeout=30,
                               json={"module_id": module, "object_id": object_id, "receivers": receivers}).json()
        assert pushed["receiver_responses"][0]["status_code"] in (200, 201), pushed
        answers[module] = pushed["receiver_responses"][0]["response"]
    # the running session: 4 kWh so far at the partner's tariff, by the same rating call as the bill
    assert answers["sessions"]["data"] == {"session_id": "NL-PTN-S-S-1",
                                           "interim_cost": {"excl_vat": "1.0000", "incl_vat": "1.1000"}}
    with Session(ours.engine) as db:
        assert db.get(TariffRow, ("A", "NLPTN-T1")) is not None
        session = db.scalars(select(SessionRow).where(SessionRow.tenant_id == "A")).one()
        assert session.status == "billed"
        assert session.rating is not None and session.rating["tariff_id"] == "NLPTN-T1"
        # 10 kWh at the partner's 0.25/kWh + 10 % VAT, not the 9.99 the partner reported
        assert session.rating["total_cost"] == {"excl_vat": "2.5000", "incl_vat": "2.7500"}
    # we as CPO: the billed session's CDR goes to the partner's CDR receiver through the outbox
    r = requests.put(ours.url + "/v1/platforms/ocpi", json={"enabled": True, "config": {}},
                     headers={"X-API-Key": KEY}, timeout=30)
    assert r.status_code in (200, 201), r.text
    os.environ.setdefault("EVBILL_TOKEN_KEY", TOKEN_KEY)
    outage = Outage(down=1)
    now = datetime.now(UTC) + timedelta(days=1)  # past the billed event's creation
    first = worker.run_once(ours.engine, now, senders=lambda target: outage)
    assert first.get("retry", 0) + first.get("failed", 0) >= 1, first
    assert partner.state()["objects"]["cdrs"] == {}
    worker.run_once(ours.engine, now + timedelta(hours=2), senders=lambda target: outage)
    worker.run_once(ours.engine, now + timedelta(hours=4), senders=lambda target: outage)
    cdrs = partner.state()["objects"]["cdrs"]
    assert list(cdrs) == [("NL/EVB/" + session.session_id[:39]).lower()]  # py_ocpi keeps CiStrings lower-case
    [cdr] = cdrs.values()
    assert cdr["total_cost"] == {"excl_vat": 2.5, "incl_vat": 2.75}
    calls = [c for c in partner.state()["calls"] if c["method"] == "POST" and "/cdrs" in c["path"]]
    assert len(calls) == 1 and calls[0]["x_request_id"] and calls[0]["from"] == "EVB" and calls[0]["to"] == "PTN"
