"""NetSuite routes of the finance vendors double (``FinanceVendors`` in ``finance_vendors.py``)."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Flask, Response, request

from tests.platforms.fakes.server import reply


class NetSuite:
    """Mixed into ``FinanceVendors`` (one server for the five vendors: shared token set, request log and
    scripted failures); ``install_netsuite`` adds this vendor's state and routes."""

    def install_netsuite(self, app: Flask) -> None:
        self.ns_records: dict[str, dict[str, Any]] = {}  # seeded item fulfillments by ref ("eid:S-100" or id)
        self.ns_jobs: dict[str, str] = {}  # idempotency key -> job location
        self.ns_job_bodies: dict[str, bytes] = {}  # idempotency key -> the body it was first sent with
        self.ns_applied: list[tuple[str, str | None]] = []  # (ref, idempotency key) of every applied update
        self.ns_nonces: set[str] = set()
        self.ns_invoices: dict[str, dict[str, Any]] = {}  # Invoices upserted by external id ("eid:EV-S-100")
        # legacy tax: taxCode id -> rate in percent; NetSuite computes each line's tax from it (half up, cents)
        self.ns_tax_rates: dict[str, Decimal] = {"8": Decimal("19")}
        # Tax Groups: group id -> its tax codes; used as a line's taxCode, it levies their rates summed, once
        self.ns_tax_groups: dict[str, list[str]] = {}
        self.ns_credit_memos: dict[str, dict[str, Any]] = {}  # Credit Memos upserted by external id
        self.ns_journals: dict[str, dict[str, Any]] = {}  # Journal Entries upserted by external id
        # the chart of accounts the journal entries may use: internal id -> NetSuite account type
        self.ns_accounts: dict[str, str] = {"1100": "AcctRec", "4000": "Income", "4010": "Income",
                                            "1150": "OthCurrAsset", "2200": "OthCurrLiab", "2210": "OthCurrLiab"}
        self.ns_one_world = True  # subsidiary required on journal entries

        # OAuth 2.0 M2M: certificate id -> the uploaded certificate's public key (PEM), for this integration
        self.ns_m2m_client = "ns-m2m-client"
        self.ns_m2m_keys: dict[str, bytes] = {}
        self.ns_m2m_assertions: list[dict[str, Any]] = []  # the verified claims of every token request

        @app.post("/services/rest/auth/oauth2/v1/token")
        def ns_m2m_token() -> Response:
            """NetSuite's client-credentials grant: no client secret, a JWT assertion signed with the key of an
            uploaded certificate (``kid``), issued by the integration's client id for this token endpoint."""
            import jwt

            form = request.form
            if (form.get("grant_type"), form.get("client_assertion_type")) != (
                    "client_credentials", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"):
                return reply({"error": "unsupported_grant_type"}, 400)
            assertion = form.get("client_assertion") or ""
            try:
                header = jwt.get_unverified_header(assertion)
                key = self.ns_m2m_keys[header.get("kid")]
                claims = jwt.decode(assertion, key, algorithms=["PS256", "PS384", "PS512", "ES256", "ES384", "ES512"],
                                    audience=request.base_url, issuer=self.ns_m2m_client,
                                    options={"require": ["iss", "aud", "iat", "exp"]})
            except (KeyError, jwt.PyJWTError) as exc:
                return reply({"error": "invalid_grant", "error_description": type(exc).__name__}, 400)
            if claims["exp"] - claims["iat"] > 3600 or "rest_webservices" not in (claims.get("scope") or []):
                return reply({"error": "invalid_grant", "error_description": "lifetime or scope"}, 400)
            self.ns_m2m_assertions.append(claims)
            token = f"ns-m2m-token-{next(self.ids)}"
            self.tokens.add(token)
            return reply({"access_token": token, "expires_in": 3600, "token_type": "bearer"})

        def ns_error(status: int, code: str, detail: str) -> Response:
            return reply({"title": {400: "Bad Request", 404: "Not Found"}.get(status, "Error"), "status": status,
                          "o:errorDetails": [{"detail": detail, "o:errorCode": code}]}, status)

        def ns_replay(key: str | None) -> Response | None:
            """A known key answers its first job; with another body it is refused (assumed strict, as Square and
            Stripe are: docs/platforms/netsuite.md lists it to check in the sandbox)."""
            if not key or key not in self.ns_jobs:
                if key:
                    self.ns_job_bodies[key] = request.get_data()
                return None
            if self.ns_job_bodies.get(key, request.get_data()) != request.get_data():
                return ns_error(400, "USER_ERROR", "The idempotency key was already used with another request body.")
            return Response("", status=202, headers={"Location": self.ns_jobs[key]})

        def ns_async(ref: str, key: str | None, location: str) -> Response:
            """Applied: 202 + the job (remembered under the idempotency key) when async, else 204 + the record."""
            self.ns_applied.append((ref, key))
            if request.headers.get("Prefer") == "respond-async":
                job = f"{self.url}/services/rest/async/v1/job/{next(self.ids)}"
                if key:
                    self.ns_jobs[key] = job
                return Response("", status=202, headers={"Location": job})
            return Response("", status=204, headers={"Location": location})

        def ns_tba_ok() -> str | None:
            from oauthlib.common import Request
            from oauthlib.oauth1.rfc5849 import signature, utils

            header = request.headers.get("Authorization", "")
            if not header.startswith("OAuth "):
                return "no OAuth header"
            params = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(header)}
            if params.get("realm") != "1234567_SB1" or params.get("oauth_signature_method") != "HMAC-SHA256":
                return f"realm/signature method: {params.get('realm')} {params.get('oauth_signature_method')}"
            if (params.get("oauth_consumer_key"), params.get("oauth_token")) != ("ns-ck", "ns-token"):
                return "unknown consumer or token"
            if params["oauth_nonce"] in self.ns_nonces:
                return "nonce reused"
            self.ns_nonces.add(params["oauth_nonce"])
            req = Request(request.url, request.method, headers=dict(request.headers))
            req.params = signature.collect_parameters(uri_query=request.query_string.decode(),
                                                      headers=dict(request.headers), exclude_oauth_signature=True)
            req.signature = params["oauth_signature"]
            if not signature.verify_hmac_sha256(req, "ns-cs", "ns-ts"):
                return "signature mismatch"
            return None

        @app.patch("/services/rest/record/v1/itemFulfillment/<path:ref>")
        def ns_patch(ref: str) -> Response:
            problem = None if self.bearer_ok() else ns_tba_ok()
            if problem:
                return reply({"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
                              "title": "Unauthorized", "status": 401,
                              "o:errorDetails": [{"detail": f"Invalid login attempt. ({problem})",
                                                  "o:errorCode": "INVALID_LOGIN"}]}, 401)
            if ref not in self.ns_records:
                return reply({"title": "Not Found", "status": 404,
                              "o:errorDetails": [{"detail": f"Record {ref} was not found.",
                                                  "o:errorCode": "NONEXISTENT_ID"}]}, 404)
            body = json.loads(request.get_data(), parse_float=Decimal)
            key = request.headers.get("X-NetSuite-Idempotency-Key")
            with self.lock:
                replay = ns_replay(key)
                if replay is not None:
                    return replay
                record = self.ns_records[ref]
                if request.args.get("replace") == "item":
                    record["item"] = body.pop("item")
                record.update(body)
                self.ns_applied.append((ref, key))
                if request.headers.get("Prefer") == "respond-async":
                    job = f"{self.url}/services/rest/async/v1/job/{next(self.ids)}"
                    if key:
                        self.ns_jobs[key] = job
                    return Response("", status=202, headers={"Location": job})
            return Response("", status=204, headers={"Location": f"{self.url}/services/rest/record/v1/"
                                                                 f"itemFulfillment/{record['id']}"})

        @app.put("/services/rest/record/v1/<any(invoice, creditMemo):record>/<path:ref>")
        def ns_upsert_invoice(record: str, ref: str) -> Response:
            """Invoices and Credit Memos (a customer, item lines; NetSuite computes the tax from the tax codes)."""
            stored = self.ns_invoices if record == "invoice" else self.ns_credit_memos
            problem = None if self.bearer_ok() else ns_tba_ok()
            if problem:
                return reply({"title": "Unauthorized", "status": 401,
                              "o:errorDetails": [{"detail": f"Invalid login attempt. ({problem})",
                                                  "o:errorCode": "INVALID_LOGIN"}]}, 401)
            body = json.loads(request.get_data(), parse_float=Decimal)
            missing = [k for k in ("entity", "item") if not body.get(k)]
            if missing or not ref.startswith("eid:") or body.get("externalId") not in (None, ref[4:]):
                return reply({"title": "Bad Request", "status": 400, "o:errorDetails": [
                    {"detail": f"Invalid upsert: {missing or ref}", "o:errorCode": "USER_ERROR"}]}, 400)
            key = request.headers.get("X-NetSuite-Idempotency-Key")
            with self.lock:
                replay = ns_replay(key)
                if replay is not None:
                    return replay
                items = body["item"]["items"]
                rates = {i["taxCode"]["id"]: self.ns_tax_rate(i["taxCode"]["id"]) for i in items if "taxCode" in i}
                unknown = [code for code, rate in rates.items() if rate is None]
                if unknown:
                    return ns_error(400, "INVALID_KEY_OR_REF", f"Invalid taxCode reference key {unknown[0]}.")
                subtotal = sum((Decimal(str(i["amount"])) for i in items), Decimal(0))
                tax = sum(((Decimal(str(i["amount"])) * Decimal(rates[i["taxCode"]["id"]] or 0) / 100).quantize(
                    Decimal("0.01"), ROUND_HALF_UP) for i in items if "taxCode" in i), Decimal(0))
                previous = stored.get(ref) or {"id": str(next(self.ids))}
                stored[ref] = {"id": previous["id"], **body, "subtotal": subtotal, "taxTotal": tax,
                               "total": subtotal + tax}
                return ns_async(ref, key, f"{self.url}/services/rest/record/v1/{record}/{previous['id']}")

        @app.get("/services/rest/record/v1/<any(invoice, creditMemo):record>/<path:ref>")
        def ns_get_invoice(record: str, ref: str) -> Response:
            problem = None if self.bearer_ok() else ns_tba_ok()
            if problem:
                return ns_error(401, "INVALID_LOGIN", f"Invalid login attempt. ({problem})")
            found = (self.ns_invoices if record == "invoice" else self.ns_credit_memos).get(ref)
            if found is None:
                return ns_error(404, "NONEXISTENT_ID", f"Record {ref} was not found.")
            fields = request.args.get("fields")
            shown = {k: v for k, v in found.items() if not fields or k in fields.split(",") or k == "id"}
            return Response(json.dumps(shown, default=str), status=200, mimetype="application/json")

        @app.put("/services/rest/record/v1/journalEntry/<path:ref>")
        def ns_upsert_journal(ref: str) -> Response:
            """What NetSuite enforces on a journal entry: lines with a known account and one positive debit or
            credit, a customer on A/R lines, the subsidiary (OneWorld), debits equal to credits."""
            problem = None if self.bearer_ok() else ns_tba_ok()
            if problem:
                return ns_error(401, "INVALID_LOGIN", f"Invalid login attempt. ({problem})")
            body = json.loads(request.get_data(), parse_float=Decimal)
            if not ref.startswith("eid:") or body.get("externalId") not in (None, ref[4:]):
                return ns_error(400, "USER_ERROR", f"Invalid upsert: {ref}")
            if request.args.get("replace") != "line":
                return ns_error(400, "USER_ERROR", "an upsert must replace the line sublist")
            if self.ns_one_world and not (body.get("subsidiary") or {}).get("id"):
                return ns_error(400, "USER_ERROR", "Please enter value(s) for: Subsidiary")
            items = (body.get("line") or {}).get("items") or []
            if len(items) < 2:
                return ns_error(400, "USER_ERROR", "A journal entry needs at least two lines")
            for n, item in enumerate(items):
                account = (item.get("account") or {}).get("id")
                if account not in self.ns_accounts:
                    return ns_error(400, "INVALID_KEY_OR_REF", f"line {n}: Invalid account reference key {account}.")
                sides = [side for side in ("debit", "credit") if side in item]
                if len(sides) != 1 or not isinstance(item[sides[0]], (Decimal, int)) or item[sides[0]] <= 0:
                    return ns_error(400, "USER_ERROR", f"line {n}: one positive debit or credit, got {sides}")
                if self.ns_accounts[account] == "AcctRec" and not (item.get("entity") or {}).get("id"):
                    return ns_error(400, "USER_ERROR", f"line {n}: Please enter value(s) for: Name (A/R account)")
            debits = sum((Decimal(i.get("debit", 0)) for i in items), Decimal(0))
            credits = sum((Decimal(i.get("credit", 0)) for i in items), Decimal(0))
            if debits != credits:
                return ns_error(400, "USER_ERROR", f"The transaction is not in balance: {debits} != {credits}")
            key = request.headers.get("X-NetSuite-Idempotency-Key")
            with self.lock:
                replay = ns_replay(key)
                if replay is not None:
                    return replay
                previous = self.ns_journals.get(ref) or {"id": str(next(self.ids))}
                self.ns_journals[ref] = {"id": previous["id"], **body}
                return ns_async(ref, key, f"{self.url}/services/rest/record/v1/journalEntry/{previous['id']}")

    def ns_tax_rate(self, code: str) -> Decimal | None:
        """A tax code's rate, or a Tax Group's (the sum of its codes' rates); None: NetSuite has no such record."""
        if code in self.ns_tax_groups:
            parts = [self.ns_tax_rates.get(c) for c in self.ns_tax_groups[code]]
            return None if None in parts else sum((p for p in parts if p is not None), Decimal(0))
        return self.ns_tax_rates.get(code)

    def ns_receivable(self, entity: str) -> Decimal:
        """The customer's A/R balance in NetSuite: its Invoices' totals less its Credit Memos'."""
        def total(records: dict[str, dict[str, Any]]) -> Decimal:
            return sum((r["total"] for r in records.values() if r["entity"]["id"] == entity), Decimal(0))
        return total(self.ns_invoices) - total(self.ns_credit_memos)

    def ns_balances(self) -> dict[str, Decimal]:
        """Every account's balance over the journal entries (debit positive), as NetSuite's trial balance."""
        balances: dict[str, Decimal] = {}
        for journal in self.ns_journals.values():
            for item in journal["line"]["items"]:
                amount = Decimal(item.get("debit", 0)) - Decimal(item.get("credit", 0))
                balances[item["account"]["id"]] = balances.get(item["account"]["id"], Decimal(0)) + amount
        return balances

