"""Fixtures for the gspread sync tests: a service-account key, the fake Sheets API, billed events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.models import Customer, Session, Tariff
from connector.rating import rate
from tests.spreadsheets.sheets.conftest import TOU
from tests.spreadsheets.sheets.fake_sheets import FakeSheets

SPREADSHEET_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account(key: rsa.RSAPrivateKey, token_uri: str) -> dict[str, Any]:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "evbill-test", "private_key_id": "k1", "private_key": pem,
            "client_email": "sync@evbill-test.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": token_uri}


@dataclass
class Google:
    fake: FakeSheets
    url: str
    info: dict[str, Any]


def billed_event(sid: str, start: str, kwh: str, station: str = "ST-1", customer_class: str | None = None,
                 minutes: int = 60) -> dict[str, Any]:
    """A ``session.billed`` envelope whose rating comes from the real core (TOU tariff, Berlin)."""
    from datetime import datetime, timedelta

    begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    session = Session(id=sid, start=begin, end=begin + timedelta(minutes=minutes), energy_kwh=kwh,
                      time_zone="Europe/Berlin", station_id=station, customer_id="C-1")
    customer = Customer(id="C-1", name="Fleet One", **({"customer_class": customer_class} if customer_class else {}))
    rated = rate(session, [Tariff.model_validate(TOU)], customer)
    view = rated.invoice.to_dict()
    invoice = {"id": f"inv_{sid}", "number": f"INV-{sid}", "currency": "EUR", "status": "draft",
               "customer": {"id": "C-1", "customer_class": customer_class}, "net_total": "999.00",
               "tax_total": "99.00", "gross_total": "1098.00", "amount_due": "1098.00", "lines": view["lines"]}
    return {"id": f"evt_{sid}", "type": "session.billed", "tenant_id": "t1", "created_at": "2026-01-13T16:00:00Z",
            "data": {"session": json.loads(session.model_dump_json()), "rating": rated.to_dict(), "invoice": invoice}}
