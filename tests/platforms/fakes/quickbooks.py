"""QuickBooks Online double: rotating refresh tokens, Bearer check, body validated against the vendor schema
plus the API rules the XSD does not enforce (balanced, line fields, Entity on the A/R line), and
``requestid`` replay (same id -> the entry made first)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request

from tests.platforms.fakes.server import OAuthServer, problem
from tests.platforms.schemas import schema_errors

AR = "84"


def fault(message: str) -> Response:
    return problem(400, {"Fault": {"Error": [{"Message": message, "code": "6000"}], "type": "ValidationFault"}})


class QuickBooksDouble(OAuthServer):
    TOKEN_PATHS = ("/oauth2/v1/tokens/bearer",)

    def routes(self, app: Flask) -> None:
        self.rotate = True
        self.entries: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, Response] = {}

        @app.post("/v3/company/<realm>/journalentry")
        def journalentry(realm: str) -> Response:
            if not self.bearer_ok():
                return problem(401, {"fault": {"error": [{"code": "3200", "message": "AuthenticationFailed"}]}})
            if realm != "9130350000000000" or request.args.get("minorversion") != "75":
                return fault("wrong realm or minorversion")
            rid = request.args.get("requestid", "")
            if rid in self.replies:
                old = self.replies[rid]
                return Response(old.get_data(), status=old.status_code, content_type="application/json")
            body = json.loads(request.get_data(as_text=True), parse_float=Decimal)
            bad = schema_errors("quickbooks/journalentry_create.schema.json", body)
            if bad:
                return fault("; ".join(bad))
            debit = credit = Decimal(0)
            for ln in body["Line"]:
                d = ln.get("JournalEntryLineDetail") or {}
                if ln.get("DetailType") != "JournalEntryLineDetail" or "Amount" not in ln or not d.get("AccountRef"):
                    return fault("Required param missing")
                if d["AccountRef"]["value"] == AR and not d.get("Entity"):
                    return fault("When you use Accounts Receivable, you must choose a customer in the Name field.")
                if d["PostingType"] == "Debit":
                    debit += Decimal(str(ln["Amount"]))
                else:
                    credit += Decimal(str(ln["Amount"]))
            if debit != credit:
                return fault("Transaction is not balanced.")
            eid = str(next(self.ids))
            self.entries[eid] = {"body": body, "total": debit}
            resp = Response(json.dumps({"JournalEntry": {"Id": eid, "SyncToken": "0", "TotalAmt": float(debit),
                                                         "DocNumber": body.get("DocNumber")}}),
                            status=200, content_type="application/json")
            if rid:
                self.replies[rid] = resp
            return resp
