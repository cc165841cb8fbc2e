"""One double on 127.0.0.1 for what the payment receivers read back from the vendors.

- Stripe ``GET /v1/events`` (Bearer key, ``types[]``, ``created[gte]``, pages).
- Square ``GET /v2/orders/{id}``; ``POST /v2/invoices/search`` (``location_ids`` required, ``limit`` 1..200, pages).
- Xero ``GET /api.xro/2.0/Invoices[/{id}]`` behind OAuth (rotating refresh tokens) and ``xero-tenant-id``.
- PayPal ``POST /v1/notifications/verify-webhook-signature`` (body checked against PayPal's schema), which checks
  PayPal's documented scheme, SHA256withRSA over ``transmission_id|transmission_time|webhook_id|crc32(event)``, with
  the certificate's key; ``GET /v2/invoicing/invoices/{id}``; ``POST /v2/invoicing/search-invoices``.
- Plaid ``/transfer/event/sync`` (body checked against Plaid's schema) and ``/transfer/get``.

A body the vendor would refuse answers 400 as the vendor does.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Flask, Response, jsonify, request

from tests.platforms.fakes.server import OAuthServer, problem
from tests.platforms.schemas import schema_errors

STRIPE_KEY = "sk_test_123"
XERO_ORG = "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f"
PAYPAL_WEBHOOK_ID = "1JE4291016473214C"
PLAID = ("plaid-client", "plaid-secret")


def paypal_message(transmission_id: str, transmission_time: str, webhook_id: str, event: dict[str, Any]) -> bytes:
    """What PayPal signs; the event's CRC32 is taken over its canonical JSON (the double sees it re-serialised)."""
    crc = zlib.crc32(json.dumps(event, sort_keys=True, separators=(",", ":")).encode())
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()


class PaymentVendors(OAuthServer):
    TOKEN_PATHS = ("/connect/token", "/v1/oauth2/token")

    def __init__(self) -> None:
        self.paypal_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        super().__init__()
        self.rotate = True  # Xero rotates refresh tokens on every refresh

    def paypal_headers(self, event: dict[str, Any], transmission_id: str = "tx-1",
                       key: rsa.RSAPrivateKey | None = None) -> dict[str, str]:
        when = "2026-02-03T10:00:00Z"
        sig = (key or self.paypal_key).sign(paypal_message(transmission_id, when, PAYPAL_WEBHOOK_ID, event),
                                            padding.PKCS1v15(), hashes.SHA256())
        return {"PAYPAL-AUTH-ALGO": "SHA256withRSA", "PAYPAL-CERT-URL": f"{self.url}/certs/paypal.pem",
                "PAYPAL-TRANSMISSION-ID": transmission_id, "PAYPAL-TRANSMISSION-TIME": when,
                "PAYPAL-TRANSMISSION-SIG": base64.b64encode(sig).decode()}

    def routes(self, app: Flask) -> None:
        self.stripe_events: list[dict[str, Any]] = []
        self.square_orders: dict[str, dict[str, Any]] = {}
        self.square_invoices: list[dict[str, Any]] = []
        self.xero_invoices: dict[str, dict[str, Any]] = {}
        self.paypal_invoices: dict[str, dict[str, Any]] = {}
        self.plaid_events: list[dict[str, Any]] = []
        self.plaid_transfers: dict[str, dict[str, Any]] = {}

        @app.get("/v1/events")
        def stripe_events() -> Response:
            if request.headers.get("Authorization") != f"Bearer {STRIPE_KEY}":
                return problem(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
            types = request.args.getlist("types[]")
            since = int(request.args.get("created[gte]", "0"))
            after = request.args.get("starting_after")
            limit = int(request.args.get("limit", "10"))
            found = sorted((e for e in self.stripe_events if (not types or e["type"] in types)
                            and e["created"] >= since), key=lambda e: (-e["created"], e["id"]))  # newest first
            if after:
                ids = [e["id"] for e in found]
                found = found[ids.index(after) + 1:] if after in ids else []
            return jsonify(object="list", data=found[:limit], has_more=len(found) > limit)

        @app.get("/v2/orders/<order_id>")
        def square_order(order_id: str) -> Response:
            if not request.headers.get("Authorization", "").startswith("Bearer ") or \
                    not request.headers.get("Square-Version"):
                return problem(401, {"errors": [{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED"}]})
            order = self.square_orders.get(order_id)
            if order is None:
                return problem(404, {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "NOT_FOUND"}]})
            return jsonify(order=order)

        @app.post("/v2/invoices/search")
        def square_search() -> Response:
            body = request.get_json(silent=True) or {}
            locations = ((body.get("query") or {}).get("filter") or {}).get("location_ids")
            limit = body.get("limit", 100)
            if not locations or not isinstance(limit, int) or not 1 <= limit <= 200:
                return problem(400, {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "BAD_REQUEST"}]})
            found = [i for i in self.square_invoices if i.get("location_id") in locations]
            start = int(body.get("cursor") or 0)
            page = found[start:start + limit]
            answer: dict[str, Any] = {"invoices": page}
            if start + limit < len(found):
                answer["cursor"] = str(start + limit)
            return jsonify(answer)

        @app.post("/v2/invoicing/search-invoices")
        def paypal_search() -> Response:
            if not self.bearer_ok():
                return problem(401, {"error": "invalid_token"})
            body = request.get_json(silent=True) or {}
            statuses = body.get("status") or []
            window = body.get("payment_date_range") or {}

            def paid_in_window(inv: dict[str, Any]) -> bool:
                dates = [t["payment_date"] for t in (inv.get("payments") or {}).get("transactions") or []]
                return not window or any(window["start"] <= d <= window["end"] for d in dates)

            items = [{"id": i["id"], "status": i["status"], "detail": i["detail"]}
                     for i in self.paypal_invoices.values()
                     if (not statuses or i["status"] in statuses) and paid_in_window(i)]
            return jsonify(items=items, total_items=len(items))

        def xero_guard() -> Response | None:
            if not self.bearer_ok():
                return problem(401, {"Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired"})
            if request.headers.get("xero-tenant-id") != XERO_ORG:
                return problem(403, {"Title": "Forbidden", "Detail": "AuthenticationUnsuccessful"})
            return None

        @app.get("/api.xro/2.0/Invoices/<invoice_id>")
        def xero_invoice(invoice_id: str) -> Response:
            refused = xero_guard()
            if refused is not None:
                return refused
            if invoice_id not in self.xero_invoices:
                return problem(404, {"Title": "Not Found"})
            return jsonify(Invoices=[self.xero_invoices[invoice_id]])

        @app.get("/api.xro/2.0/Invoices")
        def xero_invoices() -> Response:
            refused = xero_guard()
            if refused is not None:
                return refused
            return jsonify(Invoices=list(self.xero_invoices.values()))

        @app.post("/v1/notifications/verify-webhook-signature")
        def paypal_verify() -> Response:
            if not self.bearer_ok():
                return problem(401, {"error": "invalid_token"})
            body = request.get_json(silent=True) or {}
            # the event's properties are readOnly in PayPal's spec yet must be echoed (NOTES.md): no readOnly rule
            errors = schema_errors("paypal/verify_webhook_signature.schema.json", body, request_body=False)
            if errors:
                return problem(400, {"name": "VALIDATION_ERROR", "details": [{"issue": e} for e in errors]})
            status = "FAILURE"
            if body["webhook_id"] == PAYPAL_WEBHOOK_ID and body["auth_algo"] == "SHA256withRSA":
                try:
                    self.paypal_key.public_key().verify(
                        base64.b64decode(body["transmission_sig"]),
                        paypal_message(body["transmission_id"], body["transmission_time"], body["webhook_id"],
                                       body["webhook_event"]), padding.PKCS1v15(), hashes.SHA256())
                    status = "SUCCESS"
                except Exception:  # noqa: BLE001 - any bad signature is a FAILURE answer
                    status = "FAILURE"
            return jsonify(verification_status=status)

        @app.get("/v2/invoicing/invoices/<invoice_id>")
        def paypal_invoice(invoice_id: str) -> Response:
            if not self.bearer_ok():
                return problem(401, {"error": "invalid_token"})
            if invoice_id not in self.paypal_invoices:
                return problem(404, {"name": "RESOURCE_NOT_FOUND"})
            return jsonify(self.paypal_invoices[invoice_id])

        def plaid_guard(body: dict[str, Any]) -> Response | None:
            creds = (request.headers.get("PLAID-CLIENT-ID"), request.headers.get("PLAID-SECRET"))
            if creds != PLAID:
                return problem(400, {"error_type": "INVALID_INPUT", "error_code": "INVALID_API_KEYS"})
            return None

        @app.post("/transfer/event/sync")
        def plaid_sync() -> Response:
            body = request.get_json(silent=True) or {}
            refused = plaid_guard(body)
            if refused is not None:
                return refused
            if schema_errors("plaid/transfer_event_sync.schema.json", body):
                return problem(400, {"error_type": "INVALID_REQUEST", "error_code": "INVALID_FIELD"})
            after, count = body["after_id"], body.get("count", 100)
            newer = [e for e in self.plaid_events if e["event_id"] > after]
            return jsonify(transfer_events=newer[:count], has_more=len(newer) > count, request_id="req")

        @app.post("/transfer/get")
        def plaid_get() -> Response:
            body = request.get_json(silent=True) or {}
            refused = plaid_guard(body)
            if refused is not None:
                return refused
            transfer = self.plaid_transfers.get(str(body.get("transfer_id")))
            if transfer is None:
                return problem(400, {"error_type": "TRANSFER_ERROR", "error_code": "TRANSFER_NOT_FOUND"})
            return jsonify(transfer=transfer, request_id="req")
