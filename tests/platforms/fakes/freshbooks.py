"""FreshBooks routes of the finance vendors double (``FinanceVendors`` in ``finance_vendors.py``)."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Flask, Response, request

from tests.platforms.fakes.server import reply


class FreshBooks:
    """Mixed into ``FinanceVendors`` (one server for the five vendors: shared token set, request log and
    scripted failures); ``install_freshbooks`` adds this vendor's state and routes."""

    def install_freshbooks(self, app: Flask) -> None:
        self.fb_profiles: dict[str, dict[str, Any]] = {}
        self.fb_invoices: dict[str, dict[str, Any]] = {}  # id -> invoice, with FreshBooks' computed amount
        self.fb_refresh = "fb-refresh-0"
        self.fb_credit_notes: dict[str, dict[str, Any]] = {}  # id -> credit note, with FreshBooks' amount
        self.fb_page_size = 100  # FreshBooks' largest per_page

        @app.post("/auth/oauth/token")
        def fb_token() -> Response:
            form = request.form
            if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
                    "refresh_token", "fb-client", "fb-secret") or form.get("refresh_token") != self.fb_refresh:
                return reply({"error": "invalid_grant"}, 400)
            n = next(self.ids)
            self.fb_refresh = f"fb-refresh-{n}"  # single-use refresh tokens: rotated on every refresh
            token = f"fb-token-{n}"
            self.tokens.add(token)
            return reply({"access_token": token, "refresh_token": self.fb_refresh, "expires_in": 43200,
                          "token_type": "Bearer"})

        def fb_denied(account: str) -> Response | None:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth.split(" ", 1)[1] not in self.tokens:
                return reply({"error": "unauthenticated", "error_description": "token invalid"}, 401)
            if account != "AbC123":
                return reply({"response": {"errors": [{"message": "account not found"}]}}, 404)
            return None

        @app.get("/accounting/account/<account>/invoice_profiles/invoice_profiles")
        def fb_list(account: str) -> Response:
            denied = fb_denied(account)
            if denied:
                return denied
            cid = request.args.get("search[customerid]")
            hits = [{"id": p["id"], "profileid": p["id"], "customerid": p["customerid"], "po_number": p["po_number"]}
                    for p in self.fb_profiles.values() if str(p["customerid"]) == cid]
            return reply({"response": {"result": {"invoice_profiles": hits, "page": 1, "pages": 1,
                                                  "total": len(hits)}}})

        @app.post("/accounting/account/<account>/invoice_profiles/invoice_profiles")
        def fb_create(account: str) -> Response:
            denied = fb_denied(account)
            if denied:
                return denied
            profile = json.loads(request.get_data())["invoice_profile"]
            pid = next(self.ids)
            self.fb_profiles[str(pid)] = {"id": pid, "updates": 0, **profile}
            return reply({"response": {"result": {"invoice_profile": {"id": pid, "profileid": pid, **profile}}}})

        @app.put("/accounting/account/<account>/invoice_profiles/invoice_profiles/<pid>")
        def fb_update(account: str, pid: str) -> Response:
            denied = fb_denied(account)
            if denied:
                return denied
            if pid not in self.fb_profiles:
                return reply({"response": {"errors": [{"message": "profile not found"}]}}, 404)
            self.fb_profiles[pid].update(json.loads(request.get_data())["invoice_profile"])
            self.fb_profiles[pid]["updates"] += 1
            return reply({"response": {"result": {"invoice_profile": self.fb_profiles[pid]}}})

        def fb_amount(invoice: dict[str, Any]) -> Decimal:
            """FreshBooks' total: each line's qty x unit cost plus its taxes (taxAmount1/2 are percentages),
            each tax rounded half up on the line, in the currency's cents."""
            total = Decimal(0)
            for line in invoice["lines"]:
                net = Decimal(str(line["qty"])) * Decimal(str(line["unit_cost"]["amount"]))
                total += net
                for n in (1, 2):
                    if line.get(f"taxAmount{n}") is not None:
                        total += (net * Decimal(str(line[f"taxAmount{n}"])) / 100).quantize(Decimal("0.01"),
                                                                                            ROUND_HALF_UP)
            return total

        @app.get("/accounting/account/<account>/invoices/invoices")
        def fb_invoice_list(account: str) -> Response:
            denied = fb_denied(account)
            if denied:
                return denied
            number = request.args.get("search[invoice_number]")
            hits = [i for i in self.fb_invoices.values() if number in (None, i["invoice_number"])]
            return reply({"response": {"result": {"invoices": hits, "page": 1, "pages": 1, "total": len(hits)}}})

        @app.post("/accounting/account/<account>/invoices/invoices")
        def fb_invoice_create(account: str) -> Response:
            denied = fb_denied(account)
            if denied:
                return denied
            invoice = json.loads(request.get_data())["invoice"]
            missing = [k for k in ("customerid", "create_date", "lines") if not invoice.get(k)]
            if missing:
                return reply({"response": {"errors": [{"message": f"{missing[0]} is required"}]}}, 422)
            iid = next(self.ids)
            self.fb_invoices[str(iid)] = {"id": iid, "invoiceid": iid, "vis_state": 0, "v3_status": "draft",
                                          "payment_status": "unpaid", **invoice,
                                          "amount": {"amount": f"{fb_amount(invoice):f}",
                                                     "code": invoice.get("currency_code")}}
            return reply({"response": {"result": {"invoice": self.fb_invoices[str(iid)]}}})

        @app.put("/accounting/account/<account>/invoices/invoices/<iid>")
        def fb_invoice_update(account: str, iid: str) -> Response:
            denied = fb_denied(account)
            if denied:
                return denied
            invoice = self.fb_invoices.get(iid)
            if invoice is None:
                return reply({"response": {"errors": [{"message": "invoice not found"}]}}, 404)
            change = json.loads(request.get_data())["invoice"]
            if change.get("action_mark_as_sent"):
                invoice["v3_status"] = "sent"
            if "vis_state" in change:
                invoice["vis_state"] = change["vis_state"]
            return reply({"response": {"result": {"invoice": invoice}}})

        @app.get("/accounting/account/<account>/credit_notes/credit_notes")
        def fb_credit_list(account: str) -> Response:
            denied = fb_denied(account)
            if denied:
                return denied
            cid = request.args.get("search[clientid]")
            hits = [c for c in self.fb_credit_notes.values() if cid in (None, str(c["clientid"]))]
            page, per_page = int(request.args.get("page", 1)), min(int(request.args.get("per_page", 15)), 100)
            per_page = min(per_page, self.fb_page_size)  # tests shrink pages to exercise paging
            pages = max(1, -(-len(hits) // per_page))
            shown = hits[(page - 1) * per_page:page * per_page]
            return reply({"response": {"result": {"credit_notes": shown, "page": page, "pages": pages,
                                                  "per_page": per_page, "total": len(hits)}}})

        @app.post("/accounting/account/<account>/credit_notes/credit_notes")
        def fb_credit_create(account: str) -> Response:
            """The fields FreshBooks' credit note docs list, enforced: client, date, currency, a known credit
            type, lines with a quantity and a unit cost in the credit's currency; tax percentages up to 3 decimals."""
            denied = fb_denied(account)
            if denied:
                return denied
            note = (json.loads(request.get_data()) or {}).get("credit_note") or {}
            missing = [k for k in ("clientid", "create_date", "currency_code", "credit_type", "lines") if not note.get(k)]
            if missing:
                return reply({"response": {"errors": [{"message": f"{missing[0]} is required",
                                                       "field": missing[0]}]}}, 422)
            if note["credit_type"] not in ("goodwill", "prepayment"):
                return reply({"response": {"errors": [{"message": "invalid credit_type", "field": "credit_type"}]}}, 422)
            for n, line in enumerate(note["lines"]):
                cost = line.get("unit_cost") or {}
                if line.get("qty") in (None, "") or cost.get("amount") in (None, ""):
                    return reply({"response": {"errors": [{"message": f"lines[{n}]: qty and unit_cost are required"}]}},
                                 422)
                if cost.get("code") not in (None, note["currency_code"]):
                    return reply({"response": {"errors": [{"message": f"lines[{n}]: currency differs"}]}}, 422)
                for t in (1, 2):
                    rate = line.get(f"taxAmount{t}")
                    if rate is not None and (Decimal(str(rate)).as_tuple().exponent or 0) < -3:
                        return reply({"response": {"errors": [{"message": f"lines[{n}]: taxAmount{t}"}]}}, 422)
            cid = next(self.ids)
            self.fb_credit_notes[str(cid)] = {"id": cid, "creditid": cid, "vis_state": 0, "status": "created",
                                              "display_status": "created", **note,
                                              "amount": {"amount": f"{fb_amount(note):f}",
                                                         "code": note["currency_code"]}}
            return reply({"response": {"result": {"credit_note": self.fb_credit_notes[str(cid)]}}})

        @app.put("/accounting/account/<account>/credit_notes/credit_notes/<cid>")
        def fb_credit_update(account: str, cid: str) -> Response:
            denied = fb_denied(account)
            if denied:
                return denied
            note = self.fb_credit_notes.get(cid)
            if note is None:
                return reply({"response": {"errors": [{"message": "credit note not found"}]}}, 404)
            change = json.loads(request.get_data())["credit_note"]
            if "vis_state" in change:
                note["vis_state"] = change["vis_state"]
            return reply({"response": {"result": {"credit_note": note}}})

    def fb_pay(self, number: str) -> None:
        [invoice] = [i for i in self.fb_invoices.values() if i["invoice_number"] == number]
        invoice["payment_status"], invoice["v3_status"] = "paid", "paid"

