"""One local server on 127.0.0.1 (port 0) for Zoho Books, FreshBooks, NetSuite, SAP S/4HANA and SAP Concur;
each vendor's state and routes are in ``fakes/<vendor>.py``.

Every request is recorded (JSON bodies parsed with ``Decimal`` so amounts are compared exactly) and
scripted failures (429 with Retry-After, 500) can be queued per path prefix. The vendor behaviour that
decides duplicates is modelled: Zoho rejects a second invoice_number, NetSuite remembers idempotency
keys, SAP dedupes on the reference/message id. Auth is checked on every call.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Flask, request

from tests.platforms.fakes.freshbooks import FreshBooks
from tests.platforms.fakes.netsuite import NetSuite
from tests.platforms.fakes.sap_concur import SapConcur
from tests.platforms.fakes.sap_s4hana import SapS4Hana
from tests.platforms.fakes.server import LocalServer
from tests.platforms.fakes.zoho_books import ZohoBooks


class FinanceVendors(ZohoBooks, SapConcur, SapS4Hana, NetSuite, FreshBooks, LocalServer):
    LOST_ANSWER = {"error": "gateway timeout after commit"}

    def __init__(self) -> None:
        self.tokens: set[str] = set()  # every vendor's issued access tokens
        super().__init__()

    def bearer_ok(self) -> bool:
        """A Bearer token this server issued (the client-credentials endpoint serves SAP and NetSuite)."""
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    def request_body(self) -> Any:
        """JSON parsed with ``Decimal`` (amounts compared exactly), the form, or the raw text (XML, SOAP)."""
        raw = request.get_data(cache=True)
        if request.mimetype == "application/json" and raw:
            return json.loads(raw, parse_float=Decimal)
        if request.form:
            return request.form.to_dict()
        return raw.decode() if raw else None

    def routes(self, app: Flask) -> None:
        self.install_zoho_books(app)
        self.install_sap_concur(app)
        self.install_sap_s4hana(app)
        self.install_netsuite(app)
        self.install_freshbooks(app)
