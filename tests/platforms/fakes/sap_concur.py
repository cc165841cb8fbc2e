"""SAP Concur routes of the finance vendors double (``FinanceVendors`` in ``finance_vendors.py``)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request

from tests.platforms.fakes.server import reply


class SapConcur:
    """Mixed into ``FinanceVendors`` (one server for the five vendors: shared token set, request log and
    scripted failures); ``install_sap_concur`` adds this vendor's state and routes."""

    def install_sap_concur(self, app: Flask) -> None:
        self.concur_expenses: list[dict[str, Any]] = []

        @app.post("/oauth2/v0/token")
        def concur_token() -> Response:
            form = request.form
            if (form.get("grant_type"), form.get("refresh_token"), form.get("client_id"), form.get("client_secret")) != (
                    "refresh_token", "cc-refresh", "cc-client", "cc-secret"):
                return reply({"error": "invalid_grant"}, 400)
            token = f"cc-token-{next(self.ids)}"
            self.tokens.add(token)
            return reply({"access_token": token, "expires_in": 3600, "token_type": "Bearer",
                          "refresh_token": "cc-refresh"})

        @app.post("/quickexpense/v4/users/<user>/context/TRAVELER/quickexpenses")
        def concur_quick_expense(user: str) -> Response:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth.split(" ", 1)[1] not in self.tokens:
                return reply({"errorId": "invalid_token", "errorMessage": "token invalid"}, 401)
            body = json.loads(request.get_data(), parse_float=Decimal)
            if "transactionAmount" not in body or "transactionDate" not in body:
                return reply({"errorMessage": "transactionAmount and transactionDate are required"}, 400)
            qid = f"{next(self.ids):08d}-aaaa-bbbb-cccc-000000000000"
            self.concur_expenses.append({"user": user, "id": qid, **body})
            return reply({"quickExpenseIdUri": f"{self.url}/quickexpense/v4/users/{user}/context/TRAVELER/"
                          f"quickexpenses/{qid}"}, 201)
