"""PayPal Invoicing double: client-credentials token, Bearer check, invoice numbers unique (422
DUPLICATE_INVOICE_NUMBER, as PayPal does), search by number (and by ``reference``), send only a DRAFT. No
PayPal-Request-Id dedupe on create/send (the spec declares none), so the adapter must not need it.

Corrections (invoicing_v2.json ``invoices.cancel``/``invoices.delete``/``invoices.refunds``/``invoices.get``):
cancel only a sent invoice (SENT, UNPAID; 204, a cancellation mail when ``send_to_recipient``), delete only a
DRAFT or SCHEDULED one (204; its number is free again), record an external refund only on a paid invoice and
never more than was paid (PAID -> PARTIALLY_REFUNDED/REFUNDED), else 422 naming the issue; 404 for an unknown
id, 401 without a valid token. A repeated ``PayPal-Request-Id`` on these three replays the first answer
without acting again (``honour_request_id = False`` turns that off, to prove the adapter does not need it).
``pay(iid)`` marks an invoice paid, as a payer would.

Money as PayPal computes it (``paypal_amounts``): item tax from the item's ``tax.percent`` on the item after its
discount, rounded half up per item; ``custom`` added after tax; HUF, JPY and TWD amounts with decimals refused
(422). The representation carries ``amount.breakdown`` (item_total, discount, tax_total, custom).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import jsonschema
from flask import Flask, Response, jsonify, request

from tests.platforms.fakes.server import OAuthServer, problem
from tests.platforms.schemas import schema_errors

STATUSES_CANCELLABLE = ("SENT", "UNPAID")
STATUSES_DELETABLE = ("DRAFT", "SCHEDULED")
# REFUNDED: nothing left, see the amount rule; MARKED_AS_*: a payment / refund recorded by hand
STATUSES_REFUNDABLE = ("PAID", "MARKED_AS_PAID", "PARTIALLY_REFUNDED", "REFUNDED", "MARKED_AS_REFUNDED")
# ``refund_detail`` of invoicing_v2.json (paypal/paypal-rest-api-specifications @ 195ff644, v2.6); the shared
# vendor-specs hold no extracted schema for it, so this is transcribed (``money``: currency_code + value string).
REFUND_DETAIL: dict[str, Any] = {
    "type": "object", "required": ["method"], "additionalProperties": False,
    "properties": {
        "refund_date": {"type": "string", "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"},
        "amount": {"type": "object", "required": ["currency_code", "value"], "additionalProperties": False,
                   "properties": {"currency_code": {"type": "string", "minLength": 3, "maxLength": 3},
                                  "value": {"type": "string", "maxLength": 32,
                                            "pattern": r"^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$"}}},
        "method": {"enum": ["BANK_TRANSFER", "CASH", "CHECK", "CREDIT_CARD", "DEBIT_CARD", "PAYPAL",
                            "WIRE_TRANSFER", "OTHER"]},
    },
}


def refund_errors(body: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(REFUND_DETAIL)
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


NO_DECIMALS = ("HUF", "JPY", "TWD")  # PayPal currency codes reference: no decimals for these
DIGITS = {"JPY": 0, "HUF": 0, "TWD": 0}


def paypal_amounts(body: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(item total, item discounts, tax, custom) as PayPal computes them: each item's tax is its percent of the
    item amount after its discount, rounded half up on the item to the currency's digits."""
    cur = body["detail"]["currency_code"]
    unit = Decimal(1).scaleb(-DIGITS.get(cur, 2))
    item_total = item_discount = tax = Decimal(0)
    for it in body["items"]:
        amount = Decimal(it["unit_amount"]["value"]) * Decimal(it["quantity"])
        off = Decimal((it.get("discount") or {}).get("amount", {}).get("value", "0"))
        item_total += amount
        item_discount += off
        if it.get("tax"):
            taxed = amount - off if (body.get("configuration") or {}).get(
                "tax_calculated_after_discount", True) else amount  # PayPal's default: after the discount
            tax += (taxed * Decimal(it["tax"]["percent"]) / 100).quantize(unit, ROUND_HALF_UP)
    custom = Decimal((((body.get("amount") or {}).get("breakdown") or {}).get("custom") or {}).get(
        "amount", {}).get("value", "0"))
    return item_total, item_discount, tax, custom


class PayPalDouble(OAuthServer):
    TOKEN_PATHS = ("/v1/oauth2/token",)

    def routes(self, app: Flask) -> None:
        self.invoices: dict[str, dict[str, Any]] = {}
        self.mails: list[tuple[str, dict[str, Any]]] = []
        self.cancel_mails: list[tuple[str, dict[str, Any]]] = []
        self.deleted: dict[str, dict[str, Any]] = {}
        self.replies: dict[tuple[str, str], tuple[int, str]] = {}
        self.honour_request_id = True

        def unauthorized() -> Response:
            return problem(401, {"error": "invalid_token"})

        @app.post("/v2/invoicing/search-invoices")
        def search() -> Response:
            if not self.bearer_ok():
                return unauthorized()
            query = request.get_json()
            wanted = {k: query.get(k) for k in ("invoice_number", "reference") if k in query} or {
                "invoice_number": None}
            hits = [{"id": i["id"], "status": i["status"], "detail": i["body"]["detail"]}
                    for i in self.invoices.values()
                    if all(i["body"]["detail"].get(k) == v for k, v in wanted.items())]
            return jsonify(total_items=len(hits), total_pages=1, items=hits)

        @app.post("/v2/invoicing/invoices")
        def create() -> Response:
            if not self.bearer_ok():
                return unauthorized()
            body = request.get_json()
            bad = schema_errors("paypal/invoices_create.schema.json", body)
            if bad:
                return problem(400, {"name": "INVALID_REQUEST", "details": bad})
            number = body["detail"].get("invoice_number")
            if any(i["body"]["detail"].get("invoice_number") == number for i in self.invoices.values()):
                return problem(422, {"name": "UNPROCESSABLE_ENTITY",
                                     "details": [{"issue": "DUPLICATE_INVOICE_NUMBER"}]})
            cur = body["detail"]["currency_code"]
            values = [it["unit_amount"]["value"] for it in body["items"]] + [
                it["discount"]["amount"]["value"] for it in body["items"] if "amount" in it.get("discount", {})]
            if cur in NO_DECIMALS and any("." in v for v in values):
                return problem(422, {"name": "UNPROCESSABLE_ENTITY",
                                     "details": [{"issue": "CURRENCY_DOES_NOT_SUPPORT_DECIMALS", "field": cur}]})
            iid = f"INV2-{next(self.ids):04d}-TEST"
            item_total, item_discount, tax, custom = paypal_amounts(body)
            self.invoices[iid] = {"id": iid, "status": "DRAFT", "body": body,
                                  "total": item_total - item_discount + tax + custom, "tax": tax,
                                  "item_total": item_total, "item_discount": item_discount, "custom": custom,
                                  "paid": Decimal(0), "refunded": Decimal(0), "refunds": []}
            if request.headers.get("Prefer") == "return=representation":
                return Response(jsonify(self.representation(self.invoices[iid])).get_data(), status=201,
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
            bad = schema_errors("paypal/invoices_send.schema.json", request.get_json())
            if bad:
                return problem(400, {"name": "INVALID_REQUEST", "details": bad})
            inv["status"] = "UNPAID"
            self.mails.append((iid, request.get_json()))
            return jsonify(rel="self", href=f"{self.url}/v2/invoicing/invoices/{iid}", method="GET")

        def replayed(iid: str, act: Any) -> Response:
            """Run ``act`` once per PayPal-Request-Id (when honoured): a repeat gets the first answer."""
            rid = request.headers.get("PayPal-Request-Id")
            slot = (request.path, rid or "")
            with self.lock:
                if rid and self.honour_request_id and slot in self.replies:
                    status, text = self.replies[slot]
                    return Response(text, status=status, content_type="application/json")
                resp = act(iid)
                if rid and resp.status_code < 500:
                    self.replies[slot] = (resp.status_code, resp.get_data(as_text=True))
                return resp

        def unprocessable(issue: str) -> Response:
            return problem(422, {"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": issue}]})

        def no_content() -> Response:
            return Response(b"", status=204)

        @app.get("/v2/invoicing/invoices/<iid>")
        def show(iid: str) -> Response:
            if not self.bearer_ok():
                return unauthorized()
            inv = self.invoices.get(iid)
            if inv is None:
                return problem(404, {"name": "RESOURCE_NOT_FOUND"})
            return jsonify(self.representation(inv))

        def cancel_once(iid: str) -> Response:
            inv = self.invoices.get(iid)
            if inv is None:
                return problem(404, {"name": "RESOURCE_NOT_FOUND"})
            bad = schema_errors("paypal/invoices_send.schema.json", request.get_json())  # ``notification``, as send
            if bad:
                return problem(400, {"name": "INVALID_REQUEST", "details": bad})
            if inv["status"] == "CANCELLED":
                return unprocessable("INVOICE_ALREADY_CANCELLED")
            if inv["status"] not in STATUSES_CANCELLABLE:
                return unprocessable("CANNOT_CANCEL_INVOICE")  # drafts are deleted, paid ones refunded
            inv["status"] = "CANCELLED"
            if request.get_json().get("send_to_recipient", True):
                self.cancel_mails.append((iid, request.get_json()))
            return no_content()

        @app.post("/v2/invoicing/invoices/<iid>/cancel")
        def cancel(iid: str) -> Response:
            if not self.bearer_ok():
                return unauthorized()
            return replayed(iid, cancel_once)

        def delete_once(iid: str) -> Response:
            inv = self.invoices.get(iid)
            if inv is None:
                return problem(404, {"name": "RESOURCE_NOT_FOUND"})
            if inv["status"] not in STATUSES_DELETABLE:
                return unprocessable("CANNOT_DELETE_INVOICE")  # a sent invoice is cancelled instead
            self.deleted[iid] = self.invoices.pop(iid)
            return no_content()

        @app.delete("/v2/invoicing/invoices/<iid>")
        def delete(iid: str) -> Response:
            if not self.bearer_ok():
                return unauthorized()
            return replayed(iid, delete_once)

        def refund_once(iid: str) -> Response:
            inv = self.invoices.get(iid)
            if inv is None:
                return problem(404, {"name": "RESOURCE_NOT_FOUND"})
            body = request.get_json()
            bad = refund_errors(body)
            if bad:
                return problem(400, {"name": "INVALID_REQUEST", "details": bad})
            if inv["status"] not in STATUSES_REFUNDABLE:
                return unprocessable("CANNOT_REFUND_UNPAID_INVOICE")
            cur = inv["body"]["detail"]["currency_code"]
            amount = body.get("amount") or {"currency_code": cur, "value": str(inv["paid"] - inv["refunded"])}
            if amount["currency_code"] != cur:
                return unprocessable("CURRENCY_MISMATCH")
            value = Decimal(amount["value"])
            if value <= 0 or inv["refunded"] + value > inv["paid"]:
                return unprocessable("REFUND_AMOUNT_EXCEEDED")
            inv["refunded"] += value
            inv["status"] = "REFUNDED" if inv["refunded"] == inv["paid"] else "PARTIALLY_REFUNDED"
            refund_id = f"EXTR-{next(self.ids):06d}"
            inv["refunds"].append({"type": "EXTERNAL", "refund_id": refund_id, "method": body["method"],
                                   "refund_date": body.get("refund_date"), "amount": amount})
            return jsonify(refund_id=refund_id)

        @app.post("/v2/invoicing/invoices/<iid>/refunds")
        def refunds(iid: str) -> Response:
            if not self.bearer_ok():
                return unauthorized()
            return replayed(iid, refund_once)

    def pay(self, iid: str, status: str = "PAID") -> None:
        """The payer pays the invoice in full (PAID; MARKED_AS_PAID: the merchant recorded an external payment)."""
        inv = self.invoices[iid]
        assert inv["status"] in STATUSES_CANCELLABLE, inv["status"]
        inv["status"], inv["paid"] = status, inv["total"]

    def by_number(self, number: str) -> dict[str, Any]:
        [inv] = [i for i in self.invoices.values() if i["body"]["detail"].get("invoice_number") == number]
        return inv

    def representation(self, inv: dict[str, Any]) -> dict[str, Any]:
        """``invoices.get``: the invoice with its (readOnly) status, totals, payments and refunds."""
        cur = inv["body"]["detail"]["currency_code"]

        def money(value: Decimal) -> dict[str, str]:
            return {"currency_code": cur, "value": f"{value:f}"}

        due = Decimal(0) if inv["status"] in ("CANCELLED", *STATUSES_REFUNDABLE) else (
            inv["total"] - inv.get("paid", Decimal(0)))
        breakdown = {"item_total": money(inv["item_total"]), "tax_total": money(inv["tax"]),
                     "discount": {"item_discount": money(-inv["item_discount"])}}
        if inv["custom"]:
            breakdown["custom"] = {"label": inv["body"]["amount"]["breakdown"]["custom"]["label"],
                                   "amount": money(inv["custom"])}
        return {**inv["body"], "id": inv["id"], "status": inv["status"],
                "amount": {**money(inv["total"]), "breakdown": breakdown},
                "due_amount": money(due),
                "payments": {"paid_amount": money(inv.get("paid", Decimal(0)))},
                "refunds": {"refund_amount": money(inv.get("refunded", Decimal(0))),
                            "transactions": list(inv.get("refunds", []))}}
