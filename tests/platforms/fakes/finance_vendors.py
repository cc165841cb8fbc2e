"""Local doubles of Zoho Books, FreshBooks, NetSuite, SAP S/4HANA and SAP Concur on 127.0.0.1 (port 0).

Every request is recorded (JSON bodies parsed with ``Decimal`` so amounts are compared exactly) and
scripted failures (429 with Retry-After, 500) can be queued per path prefix. The vendor behaviour that
decides duplicates is modelled: Zoho rejects a second invoice_number, NetSuite remembers idempotency
keys, SAP dedupes on the reference/message id. Auth is checked on every call.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request

from tests.platforms.fakes.server import LocalServer

ZOHO_TOKEN_PREFIX = "zb-token-"


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status=status, headers=headers or {}, content_type="application/json")


class FinanceVendors(LocalServer):
    LOST_ANSWER = {"error": "gateway timeout after commit"}

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.zoho_invoices: dict[str, dict[str, Any]] = {}
        self.zoho_credit_notes: dict[str, dict[str, Any]] = {}  # creditnote_number -> credit note (with totals)
        self.zoho_voids: list[str] = []  # invoice_id of every void Zoho applied
        self.zoho_tax_rates: dict[str, Decimal] = {"460000000040001": Decimal("19"), "460000000040002": Decimal("8")}
        self.concur_expenses: list[dict[str, Any]] = []
        self.zoho_list_lags = False
        self.sap_documents: dict[tuple[str, str], dict[str, Any]] = {}  # (company code, XBLNR) -> document
        self.sap_messages: dict[str, str] = {}  # SOAP message id -> accounting document
        self.ns_records: dict[str, dict[str, Any]] = {}  # seeded item fulfillments by ref ("eid:S-100" or id)
        self.ns_jobs: dict[str, str] = {}  # idempotency key -> job location
        self.ns_applied: list[tuple[str, str | None]] = []  # (ref, idempotency key) of every applied update
        self.ns_nonces: set[str] = set()
        self.fb_profiles: dict[str, dict[str, Any]] = {}
        self.fb_refresh = "fb-refresh-0"
        super().__init__()

    def zoho_pay(self, invoice_number: str, status: str = "paid") -> None:
        """A payment recorded in Zoho Books against one of its invoices (``paid`` or ``partially_paid``)."""
        self.zoho_invoices[invoice_number]["status"] = status

    def request_body(self) -> Any:
        """JSON parsed with ``Decimal`` (amounts compared exactly), the form, or the raw text (XML, SOAP)."""
        raw = request.get_data(cache=True)
        if request.mimetype == "application/json" and raw:
            return json.loads(raw, parse_float=Decimal)
        if request.form:
            return request.form.to_dict()
        return raw.decode() if raw else None

    def routes(self, app: Flask) -> None:  # noqa: C901 - one closure per vendor keeps the doubles readable
        # ------------------------------------------------------------ Zoho Books
        @app.post("/oauth/v2/token")
        def zoho_token() -> Response:
            form = request.form
            if (form.get("grant_type"), form.get("refresh_token"), form.get("client_id"), form.get("client_secret")) != (
                    "refresh_token", "1000.refresh", "zb-client", "zb-secret"):
                return _json({"error": "invalid_client"}, 400)
            token = f"{ZOHO_TOKEN_PREFIX}{next(self.ids)}"
            self.tokens.add(token)
            return _json({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

        def zoho_auth() -> Response | None:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Zoho-oauthtoken ") or auth.split(" ", 1)[1] not in self.tokens:
                return _json({"code": 57, "message": "You are not authorized to perform this operation"}, 401)
            if request.args.get("organization_id") != "60001":
                return _json({"code": 6041, "message": "organization_id is invalid"}, 400)
            return None

        @app.get("/books/v3/invoices")
        def zoho_list() -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            number = request.args.get("invoice_number")
            if self.zoho_list_lags:  # eventual consistency: a just-created invoice is not listed yet
                return _json({"code": 0, "message": "success", "invoices": []})
            hits = [{"invoice_id": i["invoice_id"], "invoice_number": n, "status": i["status"]}
                    for n, i in self.zoho_invoices.items() if n == number]
            return _json({"code": 0, "message": "success", "invoices": hits})

        @app.post("/books/v3/invoices")
        def zoho_create() -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            body = json.loads(request.get_data(), parse_float=Decimal)
            if request.args.get("ignore_auto_number_generation") != "true":
                return _json({"code": 4, "message": "invoice_number ignored without ignore_auto_number_generation"}, 400)
            with self.lock:
                if body["invoice_number"] in self.zoho_invoices:
                    return _json({"code": 1001, "message": f"Invoice \"{body['invoice_number']}\" already exists."}, 400)
                invoice = {"invoice_id": f"4600000{next(self.ids):06d}", "status": "draft", **body}
                self.zoho_invoices[body["invoice_number"]] = invoice
            return _json({"code": 0, "message": "The invoice has been created.",
                          "invoice": {"invoice_id": invoice["invoice_id"], "invoice_number": body["invoice_number"]}},
                         201)

        @app.post("/books/v3/invoices/<invoice_id>/status/void")
        def zoho_void(invoice_id: str) -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            with self.lock:
                invoice = next((i for i in self.zoho_invoices.values() if i["invoice_id"] == invoice_id), None)
                if invoice is None:
                    return _json({"code": 1002, "message": "Invoice does not exist."}, 404)
                if invoice["status"] in ("paid", "partially_paid"):
                    return _json({"code": 1040, "message": "Invoices with payments cannot be voided. "
                                                           "Delete the payments first."}, 400)
                if invoice["status"] == "void":
                    return _json({"code": 1041, "message": "The invoice has already been voided."}, 400)
                invoice["status"] = "void"
                self.zoho_voids.append(invoice_id)
            return _json({"code": 0, "message": "Invoice status has been changed to Void."})

        @app.get("/books/v3/creditnotes")
        def zoho_credit_note_list() -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            number = request.args.get("creditnote_number")
            hits = [{"creditnote_id": c["creditnote_id"], "creditnote_number": n, "status": c["status"],
                     "total": str(c["total"])} for n, c in self.zoho_credit_notes.items() if n == number]
            return _json({"code": 0, "message": "success", "creditnotes": hits})

        @app.post("/books/v3/creditnotes")
        def zoho_credit_note_create() -> Response:
            denied = zoho_auth()
            if denied:
                return denied
            body = json.loads(request.get_data(), parse_float=Decimal)
            if request.args.get("ignore_auto_number_generation") != "true":
                return _json({"code": 4, "message": "creditnote_number ignored without ignore_auto_number_generation"},
                             400)
            items = body.get("line_items")
            if not body.get("customer_id") or not items:
                return _json({"code": 4, "message": "customer_id and line_items are required"}, 400)
            taxes: list[Decimal] = []  # Zoho's tax per line (line-item-level rounding), at its own percentages
            for li in items:
                if not isinstance(li.get("rate"), (int, Decimal)) or not isinstance(li.get("quantity"), (int, Decimal)):
                    return _json({"code": 4, "message": "line_items: rate and quantity must be numbers"}, 400)
                if li.get("tax_id") is not None:
                    if li["tax_id"] not in self.zoho_tax_rates:
                        return _json({"code": 1004, "message": f"Tax {li['tax_id']} does not exist."}, 400)
                    taxes.append((Decimal(li["rate"]) * li["quantity"] * self.zoho_tax_rates[li["tax_id"]] / 100)
                                 .quantize(Decimal("0.01"), "ROUND_HALF_UP"))
            sub_total = sum((Decimal(li["rate"]) * li["quantity"] for li in items), Decimal(0))
            tax_total = sum(taxes, Decimal(0))
            invoice_id = request.args.get("invoice_id")
            with self.lock:
                if invoice_id is not None:
                    linked = next((i for i in self.zoho_invoices.values() if i["invoice_id"] == invoice_id), None)
                    if linked is None:
                        return _json({"code": 1002, "message": "Invoice does not exist."}, 400)
                    if linked["status"] == "void":
                        return _json({"code": 1042, "message": "Credit notes cannot be linked to a void invoice."}, 400)
                if body.get("creditnote_number") in self.zoho_credit_notes:
                    return _json({"code": 1001, "message": f"Credit Note \"{body['creditnote_number']}\" already "
                                                           "exists."}, 400)
                note = {"creditnote_id": f"4600001{next(self.ids):06d}", "status": "open", "invoice_id": invoice_id,
                        **body, "sub_total": sub_total, "tax_total": tax_total,
                        "total": sub_total + tax_total + Decimal(body.get("adjustment") or 0)}
                self.zoho_credit_notes[body["creditnote_number"]] = note
            return _json({"code": 0, "message": "The credit note has been created.",
                          "creditnote": {"creditnote_id": note["creditnote_id"], "creditnote_number": body[
                              "creditnote_number"], "invoice_id": invoice_id, "total": str(note["total"])}}, 201)

        # ------------------------------------------------------------ SAP Concur
        @app.post("/oauth2/v0/token")
        def concur_token() -> Response:
            form = request.form
            if (form.get("grant_type"), form.get("refresh_token"), form.get("client_id"), form.get("client_secret")) != (
                    "refresh_token", "cc-refresh", "cc-client", "cc-secret"):
                return _json({"error": "invalid_grant"}, 400)
            token = f"cc-token-{next(self.ids)}"
            self.tokens.add(token)
            return _json({"access_token": token, "expires_in": 3600, "token_type": "Bearer",
                          "refresh_token": "cc-refresh"})

        @app.post("/quickexpense/v4/users/<user>/context/TRAVELER/quickexpenses")
        def concur_quick_expense(user: str) -> Response:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth.split(" ", 1)[1] not in self.tokens:
                return _json({"errorId": "invalid_token", "errorMessage": "token invalid"}, 401)
            body = json.loads(request.get_data(), parse_float=Decimal)
            if "transactionAmount" not in body or "transactionDate" not in body:
                return _json({"errorMessage": "transactionAmount and transactionDate are required"}, 400)
            qid = f"{next(self.ids):08d}-aaaa-bbbb-cccc-000000000000"
            self.concur_expenses.append({"user": user, "id": qid, **body})
            return _json({"quickExpenseIdUri": f"{self.url}/quickexpense/v4/users/{user}/context/TRAVELER/"
                          f"quickexpenses/{qid}"}, 201)

        # ------------------------------------------------------------ SAP S/4HANA
        @app.post("/oauth2/cc-token")
        def client_credentials_token() -> Response:
            """Client-credentials token endpoint (Integration Suite, NetSuite OAuth 2.0 stand-in)."""
            expected = "Basic " + base64.b64encode(b"cc-app:cc-app-secret").decode()
            if request.headers.get("Authorization") != expected or request.form.get("grant_type") != "client_credentials":
                return _json({"error": "invalid_client"}, 401)
            token = f"cc-app-token-{next(self.ids)}"
            self.tokens.add(token)
            return _json({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

        def bearer_ok() -> bool:
            auth = request.headers.get("Authorization", "")
            return auth.startswith("Bearer ") and auth[7:] in self.tokens

        def sap_basic_ok() -> bool:
            expected = "Basic " + base64.b64encode(b"EVB_COMM:sap-secret").decode()
            return request.headers.get("Authorization") == expected or bearer_ok()

        @app.post("/sap/evbill/acc_document")
        def sap_json() -> Response:
            if not sap_basic_ok():
                return Response("Unauthorized", status=401)
            doc = json.loads(request.get_data())
            sums: dict[tuple[str, str], Decimal] = {}
            for row in doc["CURRENCYAMOUNT"]:
                key = (row["CURR_TYPE"], row["CURRENCY_ISO"])
                sums[key] = sums.get(key, Decimal(0)) + Decimal(row["AMT_DOCCUR"])
            if any(sums.values()):
                return _json({"RETURN": [{"TYPE": "E", "ID": "RW", "NUMBER": "609",
                                          "MESSAGE": f"Error in document: balance {sums}"}]})
            key = (doc["DOCUMENTHEADER"]["COMP_CODE"], doc["DOCUMENTHEADER"]["REF_DOC_NO"])
            with self.lock:  # the iFlow's SELECT SINGLE belnr FROM bkpf WHERE xblnr = ...
                if key in self.sap_documents:
                    return _json({"OBJ_KEY": self.sap_documents[key]["OBJ_KEY"], "DUPLICATE": True,
                                  "RETURN": [{"TYPE": "W", "ID": "ZEV", "NUMBER": "001",
                                              "MESSAGE": "Reference already posted"}]})
                obj_key = f"{100000000 + next(self.ids):010d}{key[0]}2026"
                self.sap_documents[key] = {"OBJ_KEY": obj_key, **doc}
            return _json({"OBJ_TYPE": "BKPFF", "OBJ_KEY": obj_key, "OBJ_SYS": "S4HCLNT100",
                          "RETURN": [{"TYPE": "S", "ID": "RW", "NUMBER": "605", "MESSAGE": "Document posted"}]})

        @app.post("/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi")
        def sap_soap() -> Response:
            if not sap_basic_ok():
                return Response("Unauthorized", status=401)
            if "JournalEntryCreateRequestConfirmation_In" not in request.headers.get("SOAPAction", ""):
                return Response("wrong SOAPAction", status=500)
            root = ET.fromstring(request.get_data())
            msg_id = root.findtext(".//{http://sap.com/xi/SAPSCORE/SFIN}JournalEntryBulkCreateRequest/MessageHeader/ID")
            je = root.find(".//JournalEntry")
            sums: dict[str, Decimal] = {}
            for el in je.iter():
                if el.tag in ("AmountInTransactionCurrency", "AmountInCompanyCodeCurrency"):
                    sums[el.tag] = sums.get(el.tag, Decimal(0)) + Decimal(el.text)
            with self.lock:
                if any(sums.values()):
                    number, severity, note = "0000000000", "3", f"Balance not zero: {sums}"
                elif msg_id in self.sap_messages:
                    number, severity, note = self.sap_messages[msg_id], "1", "Message already processed"
                else:
                    number, severity, note = f"{100000000 + next(self.ids):010d}", "1", "Document posted"
                    self.sap_messages[msg_id] = number
                    self.sap_documents[(je.findtext("CompanyCode"), je.findtext("DocumentReferenceID"))] = {
                        "OBJ_KEY": number, "xml": request.get_data(as_text=True)}
            answer = (
                '<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body>'
                '<n0:JournalEntryBulkCreateConfirmation xmlns:n0="http://sap.com/xi/SAPSCORE/SFIN">'
                "<JournalEntryCreateConfirmation><JournalEntryCreateConfirmation>"
                f"<AccountingDocument>{number}</AccountingDocument><CompanyCode>{je.findtext('CompanyCode')}</CompanyCode>"
                "<FiscalYear>2026</FiscalYear></JournalEntryCreateConfirmation>"
                f"<Log><MaximumLogItemSeverityCode>{severity}</MaximumLogItemSeverityCode>"
                f"<Item><Note>{note}</Note></Item></Log></JournalEntryCreateConfirmation>"
                "</n0:JournalEntryBulkCreateConfirmation></soap-env:Body></soap-env:Envelope>")
            return Response(answer, status=200, content_type="text/xml")

        # ------------------------------------------------------------ NetSuite (TBA, HMAC-SHA256)
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
            problem = None if bearer_ok() else ns_tba_ok()
            if problem:
                return _json({"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
                              "title": "Unauthorized", "status": 401,
                              "o:errorDetails": [{"detail": f"Invalid login attempt. ({problem})",
                                                  "o:errorCode": "INVALID_LOGIN"}]}, 401)
            if ref not in self.ns_records:
                return _json({"title": "Not Found", "status": 404,
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

        # ------------------------------------------------------------ FreshBooks
        @app.post("/auth/oauth/token")
        def fb_token() -> Response:
            form = request.form
            if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
                    "refresh_token", "fb-client", "fb-secret") or form.get("refresh_token") != self.fb_refresh:
                return _json({"error": "invalid_grant"}, 400)
            n = next(self.ids)
            self.fb_refresh = f"fb-refresh-{n}"  # single-use refresh tokens: rotated on every refresh
            token = f"fb-token-{n}"
            self.tokens.add(token)
            return _json({"access_token": token, "refresh_token": self.fb_refresh, "expires_in": 43200,
                          "token_type": "Bearer"})

        def fb_denied(account: str) -> Response | None:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth.split(" ", 1)[1] not in self.tokens:
                return _json({"error": "unauthenticated", "error_description": "token invalid"}, 401)
            if account != "AbC123":
                return _json({"response": {"errors": [{"message": "account not found"}]}}, 404)
            return None

        @app.get("/accounting/account/<account>/invoice_profiles/invoice_profiles")
        def fb_list(account: str) -> Response:
            denied = fb_denied(account)
            if denied:
                return denied
            cid = request.args.get("search[customerid]")
            hits = [{"id": p["id"], "profileid": p["id"], "customerid": p["customerid"], "po_number": p["po_number"]}
                    for p in self.fb_profiles.values() if str(p["customerid"]) == cid]
            return _json({"response": {"result": {"invoice_profiles": hits, "page": 1, "pages": 1,
                                                  "total": len(hits)}}})

        @app.post("/accounting/account/<account>/invoice_profiles/invoice_profiles")
        def fb_create(account: str) -> Response:
            denied = fb_denied(account)
            if denied:
                return denied
            profile = json.loads(request.get_data())["invoice_profile"]
            pid = next(self.ids)
            self.fb_profiles[str(pid)] = {"id": pid, "updates": 0, **profile}
            return _json({"response": {"result": {"invoice_profile": {"id": pid, "profileid": pid, **profile}}}})

        @app.put("/accounting/account/<account>/invoice_profiles/invoice_profiles/<pid>")
        def fb_update(account: str, pid: str) -> Response:
            denied = fb_denied(account)
            if denied:
                return denied
            if pid not in self.fb_profiles:
                return _json({"response": {"errors": [{"message": "profile not found"}]}}, 404)
            self.fb_profiles[pid].update(json.loads(request.get_data())["invoice_profile"])
            self.fb_profiles[pid]["updates"] += 1
            return _json({"response": {"result": {"invoice_profile": self.fb_profiles[pid]}}})
