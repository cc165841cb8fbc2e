"""NetSuite routes of the finance vendors double (``FinanceVendors`` in ``finance_vendors.py``)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request

from tests.platforms.fakes.server import reply


class NetSuite:
    """Mixed into ``FinanceVendors`` (one server for the five vendors: shared token set, request log and
    scripted failures); ``install_netsuite`` adds this vendor's state and routes."""

    def install_netsuite(self, app: Flask) -> None:
        self.ns_records: dict[str, dict[str, Any]] = {}  # seeded item fulfillments by ref ("eid:S-100" or id)
        self.ns_jobs: dict[str, str] = {}  # idempotency key -> job location
        self.ns_applied: list[tuple[str, str | None]] = []  # (ref, idempotency key) of every applied update
        self.ns_nonces: set[str] = set()
        self.ns_invoices: dict[str, dict[str, Any]] = {}  # Invoices upserted by external id ("eid:EV-S-100")

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
                if key and key in self.ns_jobs:
                    return Response("", status=202, headers={"Location": self.ns_jobs[key]})
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

        @app.put("/services/rest/record/v1/invoice/<path:ref>")
        def ns_upsert_invoice(ref: str) -> Response:
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
                if key and key in self.ns_jobs:
                    return Response("", status=202, headers={"Location": self.ns_jobs[key]})
                subtotal = sum((Decimal(str(i["amount"])) for i in body["item"]["items"]), Decimal(0))
                self.ns_invoices[ref] = {"id": str(next(self.ids)), **body, "subtotal": subtotal}
                self.ns_applied.append((ref, key))
                if request.headers.get("Prefer") == "respond-async":
                    job = f"{self.url}/services/rest/async/v1/job/{next(self.ids)}"
                    if key:
                        self.ns_jobs[key] = job
                    return Response("", status=202, headers={"Location": job})
            return Response("", status=204, headers={"Location": f"{self.url}/services/rest/record/v1/invoice/"
                                                                 f"{self.ns_invoices[ref]['id']}"})

