"""Zoho Books routes of the finance vendors double (``FinanceVendors`` in ``finance_vendors.py``)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request

from tests.platforms.fakes.server import reply

ZOHO_TOKEN_PREFIX = "zb-token-"


class ZohoBooks:
    """Mixed into ``FinanceVendors`` (one server for the five vendors: shared token set, request log and
    scripted failures); ``install_zoho_books`` adds this vendor's state and routes."""

    def zoho_pay(self, invoice_number: str, status: str = "paid") -> None:
        """A payment recorded in Zoho Books against one of its invoices (``paid`` or ``partially_paid``)."""
        self.zoho_invoices[invoice_number]["status"] = status

    def zoho_totals(self, body: dict[str, Any]) -> dict[str, Decimal] | Response:
        """sub_total, tax_total, total as Zoho computes them: its own percentage per tax_id on each line, rounded
        half up per line (line-item-level tax rounding), plus the adjustment; or the error Zoho answers. A tax
        group's tax_id levies each of its taxes on the line amount, each rounded, and sums them. With
        ``zoho_tax_rounding = "invoice"`` (the organization's invoice-level tax rounding) each tax is summed over
        the lines unrounded and rounded once."""
        items = body.get("line_items")
        if not body.get("customer_id") or not items:
            return reply({"code": 4, "message": "customer_id and line_items are required"}, 400)
        taxes: list[Decimal] = []
        per_tax: dict[str, Decimal] = {}
        for li in items:
            if not isinstance(li.get("rate"), (int, Decimal)) or not isinstance(li.get("quantity"), (int, Decimal)):
                return reply({"code": 4, "message": "line_items: rate and quantity must be numbers"}, 400)
            if li.get("tax_id") is not None:
                components = self.zoho_tax_groups.get(li["tax_id"], [li["tax_id"]])
                if any(c not in self.zoho_tax_rates for c in components):
                    return reply({"code": 1004, "message": f"Tax {li['tax_id']} does not exist."}, 400)
                for c in components:
                    levied = Decimal(li["rate"]) * li["quantity"] * self.zoho_tax_rates[c] / 100
                    per_tax[c] = per_tax.get(c, Decimal(0)) + levied
                    taxes.append(levied.quantize(Decimal("0.01"), "ROUND_HALF_UP"))
        if self.zoho_tax_rounding == "invoice":
            taxes = [t.quantize(Decimal("0.01"), "ROUND_HALF_UP") for t in per_tax.values()]
        sub_total = sum((Decimal(li["rate"]) * li["quantity"] for li in items), Decimal(0))
        tax_total = sum(taxes, Decimal(0))
        return {"sub_total": sub_total, "tax_total": tax_total,
                "total": sub_total + tax_total + Decimal(body.get("adjustment") or 0)}

    def install_zoho_books(self, app: Flask) -> None:
        self.zoho_invoices: dict[str, dict[str, Any]] = {}
        self.zoho_credit_notes: dict[str, dict[str, Any]] = {}  # creditnote_number -> credit note (with totals)
        self.zoho_deleted: list[dict[str, Any]] = []  # invoices and credit notes deleted (totals not ours)
        self.zoho_voids: list[str] = []  # invoice_id of every void Zoho applied
        self.zoho_tax_rates: dict[str, Decimal] = {"460000000040001": Decimal("19"), "460000000040002": Decimal("8")}
        self.zoho_tax_groups: dict[str, list[str]] = {}  # tax group's tax_id -> its taxes' tax_ids
        self.zoho_list_lags = False
        self.zoho_tax_rounding = "line"  # the organization's tax rounding: "line" (item level) or "invoice"

        @app.post("/oauth/v2/token")
        def zoho_token() -> Response:
            form = request.form
            if (form.get("grant_type"), form.get("refresh_token"), form.get("client_id"), form.get("client_secret")) != (
                    "refresh_token", "1000.refresh", "zb-client", "zb-secret"):
                return reply({"error": "invalid_client"}, 400)
            token = f"{ZOHO_TOKEN_PREFIX}{next(self.ids)}"
            self.tokens.add(token)
            return reply({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

        def zoho_auth() -> Response | None:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Zoho-oauthtoken ") or auth.split(" ", 1)[1] not in self.tokens:
                return reply({"code": 57, "message": "You are not authorized to perform this operation"}, 401)
            if request.args.get("organization_id") != "60001":
                return reply({"code": 6041, "message": "organization_id is invalid"}, 400)
            return None

        @app.get("/books/v3/invoices")
        def zoho_list() -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            number, ref = request.args.get("invoice_number"), request.args.get("reference_number")
            if self.zoho_list_lags:  # eventual consistency: a just-created invoice is not listed yet
                return reply({"code": 0, "message": "success", "invoices": []})
            hits = [{"invoice_id": i["invoice_id"], "invoice_number": n, "status": i["status"],
                     "reference_number": i.get("reference_number"), "total": str(i["total"]),
                     "balance": str(i["balance"])}
                    for n, i in self.zoho_invoices.items()
                    if (number is None or n == number) and (ref is None or i.get("reference_number") == ref)
                    and (number, ref) != (None, None)]
            return reply({"code": 0, "message": "success", "invoices": hits})

        @app.post("/books/v3/invoices")
        def zoho_create() -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            body = json.loads(request.get_data(), parse_float=Decimal)
            if request.args.get("ignore_auto_number_generation") != "true":
                return reply({"code": 4, "message": "invoice_number ignored without ignore_auto_number_generation"}, 400)
            totals = self.zoho_totals(body)
            if isinstance(totals, Response):
                return totals
            with self.lock:
                if body["invoice_number"] in self.zoho_invoices:
                    return reply({"code": 1001, "message": f"Invoice \"{body['invoice_number']}\" already exists."}, 400)
                invoice = {"invoice_id": f"4600000{next(self.ids):06d}", "status": "draft", **body, **totals,
                           "balance": totals["total"]}
                self.zoho_invoices[body["invoice_number"]] = invoice
            return reply({"code": 0, "message": "The invoice has been created.",
                          "invoice": {"invoice_id": invoice["invoice_id"], "invoice_number": body["invoice_number"],
                                      "status": "draft", "total": str(invoice["total"]),
                                      "tax_total": str(invoice["tax_total"])}}, 201)

        def zoho_invoice(invoice_id: str) -> dict[str, Any] | None:
            return next((i for i in self.zoho_invoices.values() if i["invoice_id"] == invoice_id), None)

        @app.get("/books/v3/invoices/<invoice_id>")
        def zoho_get(invoice_id: str) -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            invoice = zoho_invoice(invoice_id)
            if invoice is None:
                return reply({"code": 1002, "message": "Invoice does not exist."}, 404)
            return reply({"code": 0, "message": "success", "invoice": json.loads(json.dumps(invoice, default=str))})

        @app.post("/books/v3/invoices/<invoice_id>/status/sent")
        def zoho_mark_sent(invoice_id: str) -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            with self.lock:
                invoice = zoho_invoice(invoice_id)
                if invoice is None:
                    return reply({"code": 1002, "message": "Invoice does not exist."}, 404)
                if invoice["status"] != "draft":
                    return reply({"code": 1043, "message": "Only draft invoices can be marked as sent."}, 400)
                invoice["status"] = "sent"
            return reply({"code": 0, "message": "Invoice status has been changed to Sent."})

        @app.delete("/books/v3/invoices/<invoice_id>")
        def zoho_delete(invoice_id: str) -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            with self.lock:
                invoice = zoho_invoice(invoice_id)
                if invoice is None:
                    return reply({"code": 1002, "message": "Invoice does not exist."}, 404)
                if invoice["status"] not in ("draft", "void"):
                    return reply({"code": 1044, "message": "Only draft or void invoices can be deleted."}, 400)
                self.zoho_deleted.append(self.zoho_invoices.pop(invoice["invoice_number"]))
            return reply({"code": 0, "message": "The invoice has been deleted."})

        @app.delete("/books/v3/creditnotes/<creditnote_id>")
        def zoho_credit_note_delete(creditnote_id: str) -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            with self.lock:
                number = next((n for n, c in self.zoho_credit_notes.items() if c["creditnote_id"] == creditnote_id),
                              None)
                if number is None:
                    return reply({"code": 1002, "message": "Credit note does not exist."}, 404)
                self.zoho_deleted.append(self.zoho_credit_notes.pop(number))
            return reply({"code": 0, "message": "The credit note has been deleted."})

        @app.post("/books/v3/invoices/<invoice_id>/status/void")
        def zoho_void(invoice_id: str) -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            with self.lock:
                invoice = next((i for i in self.zoho_invoices.values() if i["invoice_id"] == invoice_id), None)
                if invoice is None:
                    return reply({"code": 1002, "message": "Invoice does not exist."}, 404)
                if invoice["status"] in ("paid", "partially_paid"):
                    return reply({"code": 1040, "message": "Invoices with payments cannot be voided. "
                                                           "Delete the payments first."}, 400)
                if invoice["status"] == "void":
                    return reply({"code": 1041, "message": "The invoice has already been voided."}, 400)
                invoice["status"] = "void"
                self.zoho_voids.append(invoice_id)
            return reply({"code": 0, "message": "Invoice status has been changed to Void."})

        @app.get("/books/v3/creditnotes")
        def zoho_credit_note_list() -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            number = request.args.get("creditnote_number")
            hits = [{"creditnote_id": c["creditnote_id"], "creditnote_number": n, "status": c["status"],
                     "total": str(c["total"])} for n, c in self.zoho_credit_notes.items() if n == number]
            return reply({"code": 0, "message": "success", "creditnotes": hits})

        @app.post("/books/v3/creditnotes")
        def zoho_credit_note_create() -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            body = json.loads(request.get_data(), parse_float=Decimal)
            if request.args.get("ignore_auto_number_generation") != "true":
                return reply({"code": 4, "message": "creditnote_number ignored without ignore_auto_number_generation"},
                             400)
            totals = self.zoho_totals(body)
            if isinstance(totals, Response):
                return totals
            invoice_id = request.args.get("invoice_id")
            with self.lock:
                if invoice_id is not None:
                    linked = next((i for i in self.zoho_invoices.values() if i["invoice_id"] == invoice_id), None)
                    if linked is None:
                        return reply({"code": 1002, "message": "Invoice does not exist."}, 400)
                    if linked["status"] == "void":
                        return reply({"code": 1042, "message": "Credit notes cannot be linked to a void invoice."}, 400)
                if body.get("creditnote_number") in self.zoho_credit_notes:
                    return reply({"code": 1001, "message": f"Credit Note \"{body['creditnote_number']}\" already "
                                                           "exists."}, 400)
                note = {"creditnote_id": f"4600001{next(self.ids):06d}", "status": "open", "invoice_id": invoice_id,
                        **body, **totals, "balance": totals["total"]}
                self.zoho_credit_notes[body["creditnote_number"]] = note
            return reply({"code": 0, "message": "The credit note has been created.",
                          "creditnote": {"creditnote_id": note["creditnote_id"], "creditnote_number": body[
                              "creditnote_number"], "invoice_id": invoice_id, "total": str(note["total"])}}, 201)

        @app.post("/books/v3/creditnotes/<creditnote_id>/invoices")
        def zoho_credit_note_apply(creditnote_id: str) -> Response:
            """Apply credits to invoices: each amount at most the invoice's balance and what is left of the credit
            note; a draft or void invoice takes none. A credit note applied in full is closed."""
            denied = zoho_auth()
            if denied:
                return denied
            body = json.loads(request.get_data(), parse_float=Decimal)
            with self.lock:
                note = next((c for c in self.zoho_credit_notes.values() if c["creditnote_id"] == creditnote_id), None)
                if note is None:
                    return reply({"code": 1002, "message": "Credit note does not exist."}, 404)
                for applied in body.get("invoices") or []:
                    invoice = zoho_invoice(str(applied.get("invoice_id")))
                    amount_applied = applied.get("amount_applied")
                    if invoice is None:
                        return reply({"code": 1002, "message": "Invoice does not exist."}, 400)
                    if not isinstance(amount_applied, (int, Decimal)) or amount_applied <= 0:
                        return reply({"code": 4, "message": "amount_applied must be a positive number"}, 400)
                    if invoice["status"] in ("draft", "void"):
                        return reply({"code": 1045, "message": "Credits cannot be applied to a draft or void "
                                                               "invoice."}, 400)
                    if amount_applied > invoice["balance"] or amount_applied > note["balance"]:
                        return reply({"code": 1046, "message": "Amount applied exceeds the balance."}, 400)
                    invoice["balance"] -= amount_applied
                    note["balance"] -= amount_applied
                    note.setdefault("applied", []).append((invoice["invoice_id"], amount_applied))
                if note["balance"] == 0:
                    note["status"] = "closed"
            return reply({"code": 0, "message": "Credits have been applied to the invoice(s)."}, 201)
