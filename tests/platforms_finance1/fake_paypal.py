"""PayPal Invoicing double: client-credentials token, Bearer check, invoice numbers unique (422
DUPLICATE_INVOICE_NUMBER, as PayPal does), search by number, send only a DRAFT. No PayPal-Request-Id
dedupe (the spec declares none), so the adapter must not need it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask, Response, jsonify, request

from .fakes import Double, problem
from .vendor import errors


class PayPalDouble(Double):
    TOKEN_PATHS = ("/v1/oauth2/token",)

    def routes(self, app: Flask) -> None:
        self.invoices: dict[str, dict[str, Any]] = {}
        self.mails: list[tuple[str, dict[str, Any]]] = []

        def unauthorized() -> Response:
            return problem(401, {"error": "invalid_token"})

        @app.post("/v2/invoicing/search-invoices")
        def search() -> Response:
            if not self.bearer_ok():
                return unauthorized()
            number = request.get_json().get("invoice_number")
            hits = [{"id": i["id"], "status": i["status"], "detail": i["body"]["detail"]}
                    for i in self.invoices.values() if i["body"]["detail"].get("invoice_number") == number]
            return jsonify(total_items=len(hits), total_pages=1, items=hits)

        @app.post("/v2/invoicing/invoices")
        def create() -> Response:
            if not self.bearer_ok():
                return unauthorized()
            body = request.get_json()
            bad = errors("paypal/invoices_create.schema.json", body)
            if bad:
                return problem(400, {"name": "INVALID_REQUEST", "details": bad})
            number = body["detail"].get("invoice_number")
            if any(i["body"]["detail"].get("invoice_number") == number for i in self.invoices.values()):
                return problem(422, {"name": "UNPROCESSABLE_ENTITY",
                                     "details": [{"issue": "DUPLICATE_INVOICE_NUMBER"}]})
            iid = f"INV2-{next(self.ids):04d}-TEST"
            items = sum(Decimal(it["unit_amount"]["value"]) * Decimal(it["quantity"]) for it in body["items"])
            off = (((body.get("amount") or {}).get("breakdown") or {}).get("discount") or {}).get(
                "invoice_discount", {}).get("amount", {}).get("value", "0")
            self.invoices[iid] = {"id": iid, "status": "DRAFT", "body": body, "total": items - Decimal(off)}
            if request.headers.get("Prefer") == "return=representation":
                return Response(jsonify(id=iid, status="DRAFT", **body).get_data(), status=201,
                                content_type="application/json")
            return Response(jsonify(rel="self", href=f"{self.url}/v2/invoicing/invoices/{iid}",
                                    method="GET").get_data(), status=201, content_type="application/json")

        @app.post("/v2/invoicing/invoices/<iid>/send")
        def send(iid: str) -> Response:
            if not self.bearer_ok():
                return unauthorized()
            inv = self.invoices.get(iid)
            if inv is None:
                return problem(404, {"name": "RESOURCE_NOT_FOUND"})
            if inv["status"] != "DRAFT":
                return problem(422, {"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": "INVOICE_ALREADY_SENT"}]})
            bad = errors("paypal/invoices_send.schema.json", request.get_json())
            if bad:
                return problem(400, {"name": "INVALID_REQUEST", "details": bad})
            inv["status"] = "UNPAID"
            self.mails.append((iid, request.get_json()))
            return jsonify(rel="self", href=f"{self.url}/v2/invoicing/invoices/{iid}", method="GET")
