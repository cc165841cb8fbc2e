"""Square Orders double: Bearer token + Square-Version, body validated against the vendor schema,
``idempotency_key`` honoured as Square does (same key + same body -> the same order; same key + another body
-> 400 IDEMPOTENCY_KEY_REUSED), totals computed from line items minus order discounts."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, jsonify, request

from tests.platforms.fakes.server import LocalServer, problem
from tests.platforms.schemas import schema_errors


class SquareDouble(LocalServer):
    def routes(self, app: Flask) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, tuple[str, str]] = {}

        @app.post("/v2/orders")
        def create_order() -> Response:
            if request.headers.get("Authorization") != "Bearer sq-token":
                return problem(401, {"errors": [{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED"}]})
            if not request.headers.get("Square-Version"):
                return problem(400, {"errors": [{"code": "MISSING_REQUIRED_PARAMETER", "field": "Square-Version"}]})
            body = request.get_json()
            bad = schema_errors("square/orders_create.schema.json", body)
            if bad:
                return problem(400, {"errors": [{"code": "INVALID_VALUE", "detail": d} for d in bad]})
            key, fingerprint = body.get("idempotency_key"), json.dumps(body["order"], sort_keys=True)
            if key in self.keys:
                oid, seen = self.keys[key]
                if seen != fingerprint:
                    return problem(400, {"errors": [{"code": "IDEMPOTENCY_KEY_REUSED"}]})
                return jsonify(order=self.orders[oid])
            order = body["order"]
            total = sum(int(i["base_price_money"]["amount"]) * int(i["quantity"]) for i in order["line_items"])
            total -= sum(int(d["amount_money"]["amount"]) for d in order.get("discounts") or [])
            oid = f"ORD{next(self.ids):05d}"
            self.orders[oid] = {"id": oid, "state": "OPEN", **order,
                                "total_money": {"amount": total, "currency": order["line_items"][0]["base_price_money"]["currency"]}}
            if key:
                self.keys[key] = (oid, fingerprint)
            return jsonify(order=self.orders[oid])
