"""The CDR push adapter with two partners: one down on the first attempt. The retry sends only to the
partner still missing the CDR, so each gets it once; a redelivery afterwards sends nothing."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from connector.platforms.adapters import ocpi
from connector.platforms.context import DeliveryContext, Stores
from connector.platforms.errors import PermanentError, RetryableError
from connector.storage.ocpi_partners import PushLog, TokenCipher
from connector.storage.tables import all_metadata
from connector.storage.tables.ocpi import OcpiPartnerRow

KEY = Fernet.generate_key().decode()
AMOUNT = {"excl_vat": "2.5000", "incl_vat": "2.7500"}
ZERO = {"excl_vat": "0.0000", "incl_vat": "0.0000"}
EVENT: Any = {"id": "evt_1", "type": "session.billed", "tenant_id": "A", "created_at": "2026-11-30T11:00:01Z",
              "data": {"session": {"id": "S-9", "id_tag": "RFID-1", "evse_id": "NL*EVB*E1"}, "rating": {
                  "start": "2026-11-30T10:00:00Z", "end": "2026-11-30T11:00:00Z", "currency": "EUR",
                  "total_cost": AMOUNT, "total_fixed_cost": ZERO, "total_energy": "10.000", "total_energy_cost": AMOUNT,
                  "total_time": "1.0000", "total_time_cost": ZERO, "total_parking_time": "0.0000",
                  "total_parking_cost": ZERO, "total_reservation_cost": ZERO,
                  "lines": [{"period_index": 0, "start": "2026-11-30T10:00:00Z", "end": "2026-11-30T11:00:00Z",
                             "dimension": "ENERGY", "volume": "10.000"}]}}}


class Answer:
    def __init__(self, body: Any) -> None:
        self.body = body

    def json(self) -> Any:
        return self.body


class Partners:
    """Two CDR receivers; ``down`` names the URLs that refuse the next call."""

    def __init__(self, down: set[str]) -> None:
        self.down, self.received = down, []  # type: list[tuple[str, dict[str, Any], dict[str, str]]]

    def send(self, method: str, url: str, **kwargs: Any) -> Any:
        if url in self.down:
            self.down.discard(url)
            raise RetryableError(f"connection refused by {url}")
        self.received.append((url, kwargs["json"], kwargs["headers"]))
        return Answer({"status_code": 1000, "data": None})


@pytest.fixture
def log(tmp_path: Any) -> PushLog:
    engine = create_engine(f"sqlite:///{tmp_path / 'push.db'}")
    all_metadata().create_all(engine)
    cipher = TokenCipher(KEY)
    with Session(engine) as db:
        for n in (1, 2):
            db.add(OcpiPartnerRow(id=f"p{n}", tenant_id="A", status="registered", country_code="DE",
                                  party_id=f"PA{n}", roles=[], endpoints=[
                                      {"identifier": "cdrs", "role": "RECEIVER", "url": f"http://p{n}/cdrs"}],
                                  outbound_token=cipher.encrypt(f"token-{n}")))
        db.add(OcpiPartnerRow(id="p3", tenant_id="A", status="unregistered", roles=[], endpoints=[]))
        db.commit()
    return PushLog(engine, KEY)


def test_a_retry_reaches_only_the_partner_that_missed_the_cdr(log: PushLog) -> None:
    http = Partners(down={"http://p2/cdrs"})
    ctx = DeliveryContext(http=http, stores=Stores(ocpi_pushes=log))
    config = ocpi.OcpiConfig(country_code="NL", party_id="EVB")
    with pytest.raises(RetryableError):
        ocpi.deliver(EVENT, config, ctx)
    assert [url for url, _, _ in http.received] == ["http://p1/cdrs"]
    result = ocpi.deliver(EVENT, config, ctx)  # the worker's retry
    assert result == {"status": "sent", "ref": "S-9", "partners": ["p2"], "already": ["p1"]}
    assert [url for url, _, _ in http.received] == ["http://p1/cdrs", "http://p2/cdrs"]
    assert ocpi.deliver(EVENT, config, ctx)["status"] == "skipped"  # a redelivery sends nothing
    assert len(http.received) == 2
    url, cdr, headers = http.received[1]
    assert cdr["total_cost"] == {"excl_vat": 2.5, "incl_vat": 2.75} and cdr["total_energy"] == 10.0
    assert (cdr["country_code"], cdr["party_id"], cdr["id"]) == ("NL", "EVB", "S-9")
    assert headers["Authorization"] == "Token dG9rZW4tMg=="  # base64("token-2")
    assert (headers["OCPI-to-country-code"], headers["OCPI-to-party-id"]) == ("DE", "PA2")


def test_a_refusal_in_the_ocpi_envelope_is_permanent(log: PushLog) -> None:
    class Refusing(Partners):
        def send(self, method: str, url: str, **kwargs: Any) -> Any:
            return Answer({"status_code": 2001, "status_message": "Invalid or missing parameters"})

    ctx = DeliveryContext(http=Refusing(set()), stores=Stores(ocpi_pushes=log))
    with pytest.raises(PermanentError, match="2001"):
        ocpi.deliver(EVENT, ocpi.OcpiConfig(), ctx)
    assert not log.pushed("A", "p1", "cdr:S-9")
