"""Plaid Transfer double: client id/secret headers, bodies validated against the vendor schemas,
authorization ``idempotency_key`` honoured (same key -> the same authorization), ``/transfer/create``
idempotent on ``authorization_id`` (as Plaid documents), amounts above a limit declined. ``/transfer/get`` and
``/transfer/cancel`` (only while ``cancellable``: pending; ``post(id)`` makes it posted, not cancellable); no
vendor schema is extracted for these two, so their fields are checked here (transfer_id required)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask, Response, jsonify, request

from tests.platforms.fakes.server import LocalServer, problem
from tests.platforms.schemas import schema_errors


class PlaidDouble(LocalServer):
    def routes(self, app: Flask) -> None:
        self.authorizations: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.limit = Decimal("500.00")

        def bad_auth() -> Response | None:
            if (request.headers.get("PLAID-CLIENT-ID"), request.headers.get("PLAID-SECRET")) != ("cid", "sandbox-secret"):
                return problem(400, {"error_type": "INVALID_INPUT", "error_code": "INVALID_API_KEYS"})
            if request.headers.get("Plaid-Version") != "2020-09-14":
                return problem(400, {"error_type": "INVALID_REQUEST", "error_code": "INVALID_FIELD"})
            return None

        @app.post("/transfer/authorization/create")
        def authorize() -> Response:
            if (err := bad_auth()) is not None:
                return err
            body = request.get_json()
            bad = schema_errors("plaid/transfer_authorization_create.schema.json", body)
            if bad:
                return problem(400, {"error_type": "INVALID_REQUEST", "error_message": "; ".join(bad)})
            key = body.get("idempotency_key")
            if key and key in self.by_key:
                return jsonify(authorization=self.authorizations[self.by_key[key]], request_id="req")
            aid = f"auth-{next(self.ids):04d}"
            approved = Decimal(body["amount"]) <= self.limit
            self.authorizations[aid] = {
                "id": aid, "created": "2026-01-13T12:00:00Z", "decision": "approved" if approved else "declined",
                "decision_rationale": None if approved else {"code": "NSF", "description": "insufficient funds"},
                "proposed_transfer": {"amount": body["amount"], "account_id": body["account_id"],
                                      "type": body["type"], "network": body["network"]}}
            if key:
                self.by_key[key] = aid
            return jsonify(authorization=self.authorizations[aid], request_id="req")

        @app.post("/transfer/create")
        def create() -> Response:
            if (err := bad_auth()) is not None:
                return err
            body = request.get_json()
            bad = schema_errors("plaid/transfer_create.schema.json", body)
            if bad:
                return problem(400, {"error_type": "INVALID_REQUEST", "error_message": "; ".join(bad)})
            auth = self.authorizations.get(body["authorization_id"])
            if auth is None or auth["decision"] != "approved":
                return problem(400, {"error_type": "TRANSFER_ERROR", "error_code": "TRANSFER_AUTHORIZATION_INVALID"})
            for t in self.transfers.values():
                if t["authorization_id"] == auth["id"]:
                    return jsonify(transfer=t, request_id="req")
            tid = f"tr-{next(self.ids):04d}"
            self.transfers[tid] = {"id": tid, "authorization_id": auth["id"], "status": "pending", "cancellable": True,
                                   "amount": auth["proposed_transfer"]["amount"], "description": body["description"],
                                   "metadata": body.get("metadata")}
            return jsonify(transfer=self.transfers[tid], request_id="req")

        @app.post("/transfer/get")
        def get() -> Response:
            if (err := bad_auth()) is not None:
                return err
            transfer = self.transfers.get((request.get_json() or {}).get("transfer_id", ""))
            if transfer is None:
                return problem(400, {"error_type": "INVALID_INPUT", "error_code": "TRANSFER_NOT_FOUND"})
            return jsonify(transfer=transfer, request_id="req")

        @app.post("/transfer/cancel")
        def cancel() -> Response:
            if (err := bad_auth()) is not None:
                return err
            body = request.get_json() or {}
            if set(body) - {"transfer_id", "reason_code", "client_id", "secret"} or "transfer_id" not in body:
                return problem(400, {"error_type": "INVALID_REQUEST", "error_code": "INVALID_FIELD"})
            transfer = self.transfers.get(body["transfer_id"])
            if transfer is None:
                return problem(400, {"error_type": "INVALID_INPUT", "error_code": "TRANSFER_NOT_FOUND"})
            if not transfer["cancellable"]:
                return problem(400, {"error_type": "TRANSFER_ERROR", "error_code": "TRANSFER_NOT_CANCELLABLE"})
            transfer["status"], transfer["cancellable"] = "cancelled", False
            return jsonify(request_id="req")

    def post(self, tid: str) -> None:
        """The ACH network picked the debit up: it is posted and can no longer be cancelled."""
        self.transfers[tid]["status"], self.transfers[tid]["cancellable"] = "posted", False

