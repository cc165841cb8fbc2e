"""FreshBooks routes of the finance vendors double (``FinanceVendors`` in ``finance_vendors.py``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, request

from tests.platforms.fakes.server import reply


class FreshBooks:
    """Mixed into ``FinanceVendors`` (one server for the five vendors: shared token set, request log and
    scripted failures); ``install_freshbooks`` adds this vendor's state and routes."""

    def install_freshbooks(self, app: Flask) -> None:
        self.fb_profiles: dict[str, dict[str, Any]] = {}
        self.fb_refresh = "fb-refresh-0"

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
