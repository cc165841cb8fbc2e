"""Square double: Orders and Invoices APIs as Square documents them.

Every call needs ``Bearer sq-token`` and ``Square-Version``; bodies are validated against the vendor schemas
(orders_create, invoices_create, invoices_publish); ``idempotency_key`` is honoured as Square does (same key +
same body -> the first answer; same key + another body -> 400 IDEMPOTENCY_KEY_REUSED).

Money as Square computes it: order taxes (``percentage``, ``scope=LINE_ITEM``) apply to the line items naming
them in ``applied_taxes``; an ORDER-scoped FIXED_AMOUNT discount is spread over the items in proportion to their
price (largest remainder) before tax; each tax is the sum of ``(price - discount share) x percentage`` over the
items it applies to, rounded once, half to even (Square staff on developer.squareup.com/forums, threads 2354,
11179 and 11705: banker's rounding, the itemized taxes summed unrounded; Square takes no fixed tax amount). ``total_money`` = items - discounts + taxes, ``total_tax_money`` the taxes. A test
reads Square's receivable (``receivable``), revenue and tax from here, never from what the adapter sent.

Invoices: CreateInvoice needs an existing order of the same location, not yet invoiced, a
``primary_recipient.customer_id`` equal to the order's customer, and a payment request; PublishInvoice needs the
current ``version`` (400 VERSION_MISMATCH otherwise) of a DRAFT; CancelInvoice (version) only for SCHEDULED /
UNPAID / PARTIALLY_PAID; DeleteInvoice only a DRAFT. ``pay(invoice_id)`` marks one paid."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from flask import Flask, Response, jsonify, request

from tests.platforms.fakes.server import LocalServer, problem
from tests.platforms.schemas import schema_errors


def err(status: int, code: str, detail: str = "", field: str | None = None) -> Response:
    error: dict[str, Any] = {"category": "INVALID_REQUEST_ERROR", "code": code, "detail": detail}
    if field:
        error["field"] = field
    return problem(status, {"errors": [error]})


def order_money(order: dict[str, Any]) -> tuple[int, int, int]:
    """(items before discounts, discounts, taxes) of an order, as Square computes them."""
    items = order["line_items"]
    prices = [int(i["base_price_money"]["amount"]) * int(i["quantity"]) for i in items]
    gross = sum(prices)
    off = sum(int(d["amount_money"]["amount"]) for d in order.get("discounts") or [])
    shares = [off * p // gross if gross else 0 for p in prices]
    rest = sorted(range(len(prices)), key=lambda k: -((off * prices[k]) % gross if gross else 0))
    for k in rest[:off - sum(shares)]:
        shares[k] += 1
    pct = {t["uid"]: Decimal(t["percentage"]) for t in order.get("taxes") or []}
    exact: dict[str, Decimal] = {}
    for item, price, share in zip(items, prices, shares, strict=True):
        for applied in item.get("applied_taxes") or []:
            uid = applied["tax_uid"]
            exact[uid] = exact.get(uid, Decimal(0)) + Decimal(price - share) * pct[uid] / 100
    tax = sum(int(v.to_integral_value(ROUND_HALF_EVEN)) for v in exact.values())
    return gross, off, tax


class SquareDouble(LocalServer):
    def routes(self, app: Flask) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.keys: dict[tuple[str, str], tuple[str, Response]] = {}

        def guard() -> Response | None:
            if request.headers.get("Authorization") != "Bearer sq-token":
                return problem(401, {"errors": [{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED"}]})
            if not request.headers.get("Square-Version"):
                return err(400, "MISSING_REQUIRED_PARAMETER", field="Square-Version")
            return None

        def idempotent(schema: str, act: Any) -> Response:
            denied = guard()
            if denied is not None:
                return denied
            body = request.get_json()
            bad = schema_errors(schema, body)
            if bad:
                return problem(400, {"errors": [{"code": "INVALID_VALUE", "detail": d} for d in bad]})
            key = body.get("idempotency_key")
            fingerprint = json.dumps({k: v for k, v in body.items() if k != "idempotency_key"}, sort_keys=True)
            if key and (request.path, key) in self.keys:
                seen, resp = self.keys[(request.path, key)]
                if seen != fingerprint:
                    return err(400, "IDEMPOTENCY_KEY_REUSED")
                return Response(resp.get_data(), status=resp.status_code, content_type="application/json")
            resp = act(body)
            if key and resp.status_code < 300:
                self.keys[(request.path, key)] = (fingerprint, resp)
            return resp

        @app.post("/v2/orders")
        def create_order() -> Response:
            def act(body: dict[str, Any]) -> Response:
                order = body["order"]
                uids = {t.get("uid") for t in order.get("taxes") or []}
                for item in order["line_items"]:
                    for applied in item.get("applied_taxes") or []:
                        if applied["tax_uid"] not in uids:
                            return err(400, "INVALID_VALUE", f"tax_uid {applied['tax_uid']} is not an order tax")
                gross, off, tax = order_money(order)
                cur = order["line_items"][0]["base_price_money"]["currency"]
                oid = f"ORD{next(self.ids):05d}"
                self.orders[oid] = {"id": oid, "state": "OPEN", "version": 1, **order,
                                    "total_money": {"amount": gross - off + tax, "currency": cur},
                                    "total_tax_money": {"amount": tax, "currency": cur},
                                    "total_discount_money": {"amount": off, "currency": cur}}
                return jsonify(order=self.orders[oid])
            return idempotent("square/orders_create.schema.json", act)

        @app.post("/v2/invoices")
        def create_invoice() -> Response:
            def act(body: dict[str, Any]) -> Response:
                inv = body["invoice"]
                order = self.orders.get(inv.get("order_id") or "")
                if order is None:
                    return err(404, "NOT_FOUND", "order not found", "invoice.order_id")
                if inv.get("location_id") != order["location_id"]:
                    return err(400, "INVALID_VALUE", "location_id must be the order's", "invoice.location_id")
                if not (inv.get("primary_recipient") or {}).get("customer_id"):
                    return err(400, "MISSING_REQUIRED_PARAMETER", field="invoice.primary_recipient.customer_id")
                if inv["primary_recipient"]["customer_id"] != order.get("customer_id"):
                    return err(400, "INVALID_VALUE", "the recipient must be the order's customer",
                               "invoice.primary_recipient.customer_id")
                if not inv.get("payment_requests"):
                    return err(400, "MISSING_REQUIRED_PARAMETER", field="invoice.payment_requests")
                if not inv.get("delivery_method"):
                    return err(400, "MISSING_REQUIRED_PARAMETER", field="invoice.delivery_method")
                if any(i["order_id"] == order["id"] for i in self.invoices.values()):
                    return err(400, "BAD_REQUEST", "the order already has an invoice", "invoice.order_id")
                iid = f"inv:0-{next(self.ids):05d}"
                request_ = dict(inv["payment_requests"][0], computed_amount_money=order["total_money"])
                self.invoices[iid] = {**inv, "id": iid, "version": 0, "status": "DRAFT",
                                      "payment_requests": [request_]}
                return jsonify(invoice=self.invoices[iid])
            return idempotent("square/invoices_create.schema.json", act)

        @app.post("/v2/invoices/<iid>/publish")
        def publish(iid: str) -> Response:
            def act(body: dict[str, Any]) -> Response:
                inv = self.invoices.get(iid)
                if inv is None:
                    return err(404, "NOT_FOUND")
                if body["version"] != inv["version"]:
                    return err(400, "VERSION_MISMATCH", f"current version is {inv['version']}")
                if inv["status"] != "DRAFT":
                    return err(400, "BAD_REQUEST", f"invoice is {inv['status']}")
                inv["status"], inv["version"] = "UNPAID", inv["version"] + 1
                return jsonify(invoice=inv)
            return idempotent("square/invoices_publish.schema.json", act)

        @app.get("/v2/invoices/<iid>")
        def get_invoice(iid: str) -> Response:
            denied = guard()
            if denied is not None:
                return denied
            if iid not in self.invoices:
                return err(404, "NOT_FOUND")
            return jsonify(invoice=self.invoices[iid])

        @app.post("/v2/invoices/<iid>/cancel")
        def cancel(iid: str) -> Response:
            denied = guard()
            if denied is not None:
                return denied
            inv = self.invoices.get(iid)
            body = request.get_json() or {}
            if inv is None:
                return err(404, "NOT_FOUND")
            if body.get("version") != inv["version"]:
                return err(400, "VERSION_MISMATCH", f"current version is {inv['version']}")
            if inv["status"] not in ("SCHEDULED", "UNPAID", "PARTIALLY_PAID"):
                return err(400, "BAD_REQUEST", f"an invoice in {inv['status']} cannot be canceled")
            inv["status"], inv["version"] = "CANCELED", inv["version"] + 1
            self.orders[inv["order_id"]]["state"] = "CANCELED"
            return jsonify(invoice=inv)

        @app.delete("/v2/invoices/<iid>")
        def delete(iid: str) -> Response:
            denied = guard()
            if denied is not None:
                return denied
            inv = self.invoices.get(iid)
            if inv is None:
                return err(404, "NOT_FOUND")
            if request.args.get("version") != str(inv["version"]) or inv["status"] != "DRAFT":
                return err(400, "BAD_REQUEST", "only the current version of a draft can be deleted")
            del self.invoices[iid]
            return jsonify({})

    def receivable(self) -> int:
        """What Square asks customers to pay: published, unpaid invoices' order totals."""
        return sum(self.orders[i["order_id"]]["total_money"]["amount"] for i in self.invoices.values()
                   if i["status"] in ("UNPAID", "PARTIALLY_PAID", "SCHEDULED"))

    def books(self, oid: str) -> tuple[int, int, int]:
        """(receivable, revenue, tax) of one order as Square computed them."""
        order = self.orders[oid]
        gross, off, tax = order_money(order)
        return order["total_money"]["amount"], gross - off, tax

    def pay(self, iid: str) -> None:
        inv = self.invoices[iid]
        assert inv["status"] == "UNPAID", inv["status"]
        inv["status"], inv["version"] = "PAID", inv["version"] + 1
