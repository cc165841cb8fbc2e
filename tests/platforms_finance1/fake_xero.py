"""Xero double: rotating refresh tokens at /connect/token, Bearer + xero-tenant-id checks, body validated
against the vendor schema (readOnly enforced), Idempotency-Key replay (same key -> the first answer)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request

from .fakes import Double, problem
from .vendor import errors

TENANT = "0a1b2c3d-0000-4000-8000-00000000beef"


class XeroDouble(Double):
    TOKEN_PATHS = ("/connect/token",)

    def routes(self, app: Flask) -> None:
        self.rotate = True
        self.invoices: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, Response] = {}

        @app.put("/api.xro/2.0/Invoices")
        def put_invoices() -> Response:
            if not self.bearer_ok():
                return problem(401, {"Title": "Unauthorized", "Detail": "AuthenticationUnsuccessful"})
            if request.headers.get("xero-tenant-id") != TENANT:
                return problem(403, {"Title": "Forbidden", "Detail": "AuthorizationUnsuccessful"})
            key = request.headers.get("Idempotency-Key", "")
            if key in self.replies:
                old = self.replies[key]
                return Response(old.get_data(), status=old.status_code, content_type="application/json")
            body = json.loads(request.get_data(as_text=True), parse_float=Decimal)  # exact numbers
            bad = errors("xero/invoices_put.schema.json", body)
            if bad:
                return problem(400, {"Type": "ValidationException", "Elements": bad})
            out = []
            for inv in body["Invoices"]:
                iid = f"00000000-0000-4000-8000-{next(self.ids):012d}"
                total = sum(Decimal(str(li["LineAmount"])) + Decimal(str(li.get("TaxAmount", 0)))
                            for li in inv["LineItems"])
                self.invoices[iid] = {"body": inv, "total": total}
                out.append({"InvoiceID": iid, "InvoiceNumber": inv.get("InvoiceNumber"), "Total": float(total),
                            "Status": inv.get("Status")})
            resp = Response(json.dumps({"Id": key, "Status": "OK", "Invoices": out}), status=200,
                            content_type="application/json")
            if key:
                self.replies[key] = resp
            return resp
