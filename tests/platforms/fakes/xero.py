"""Xero double: rotating refresh tokens at /connect/token, Bearer + xero-tenant-id checks, body validated
against the vendor schema (readOnly enforced), Idempotency-Key replay (same key -> the first answer).

Endpoints: ``PUT /Invoices`` (create), ``POST /Invoices/{InvoiceID|InvoiceNumber}`` (status change to VOIDED or
DELETED only, by Xero's rules: VOIDED from AUTHORISED without payments, DELETED from DRAFT/SUBMITTED; 404 for
an unknown invoice), ``GET /Invoices/{InvoiceID|InvoiceNumber}``, ``PUT /CreditNotes`` and
``PUT /CreditNotes/{CreditNoteID}/Allocations``. No CreditNotes request schema is vendored: credit notes and
allocations are checked against the ``CreditNote`` / ``Allocation`` models that the vendored
``xero/invoices_put.schema.json`` carries in its ``$defs`` (same Xero-OpenAPI file), plus the structure
checks below (type, contact, lines with a given tax, a non-negative total, unique number).
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from typing import Any

from flask import Flask, Response, request
from jsonschema import FormatChecker, validators

from tests.platforms.fakes.server import OAuthServer, problem
from tests.platforms.schemas import load_schema, read_only, schema_errors

TENANT = "0a1b2c3d-0000-4000-8000-00000000beef"


@lru_cache(maxsize=4)
def _def_validator(name: str, wrapper: str) -> Any:
    """``{wrapper: [<$defs/name>]}`` against the models of the vendored invoices_put schema."""
    spec = load_schema("xero/invoices_put.schema.json")
    schema = {"$schema": spec["$schema"], "type": "object", "required": [wrapper],
              "properties": {wrapper: {"type": "array", "minItems": 1, "items": {"$ref": f"#/$defs/{name}"}}},
              "$defs": spec["$defs"]}
    base = validators.validator_for(schema)
    base.check_schema(schema)
    return validators.extend(base, {"readOnly": read_only})(schema, format_checker=FormatChecker())


def def_errors(name: str, wrapper: str, body: Any) -> list[str]:
    """Errors of a ``CreditNotes`` / ``Allocations`` body against the vendor's CreditNote / Allocation model."""
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in _def_validator(name, wrapper).iter_errors(body)]


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


class XeroDouble(OAuthServer):
    TOKEN_PATHS = ("/connect/token",)

    def routes(self, app: Flask) -> None:
        self.rotate = True
        self.invoices: dict[str, dict[str, Any]] = {}
        self.credit_notes: dict[str, dict[str, Any]] = {}
        self.allocations: list[dict[str, Any]] = []
        self.status_changes: list[tuple[str, str]] = []  # (InvoiceID, new status), each applied change once
        self.replies: dict[str, Response] = {}

        def refused() -> Response | None:
            if not self.bearer_ok():
                return problem(401, {"Title": "Unauthorized", "Detail": "AuthenticationUnsuccessful"})
            if request.headers.get("xero-tenant-id") != TENANT:
                return problem(403, {"Title": "Forbidden", "Detail": "AuthorizationUnsuccessful"})
            return None

        def replayed(key: str) -> Response | None:
            if key in self.replies:
                old = self.replies[key]
                return Response(old.get_data(), status=old.status_code, content_type="application/json")
            return None

        def answer(key: str, body: dict[str, Any]) -> Response:
            resp = Response(json.dumps({"Id": key, "Status": "OK", **body}), status=200,
                            content_type="application/json")
            if key:
                self.replies[key] = resp
            return resp

        def invalid(*messages: str) -> Response:
            return problem(400, {"Type": "ValidationException",
                                 "Elements": [{"ValidationErrors": [{"Message": m} for m in messages]}]})

        def find(ref: str) -> tuple[str, dict[str, Any]] | None:
            for iid, stored in self.invoices.items():
                if ref in (iid, stored["body"].get("InvoiceNumber")):
                    return iid, stored
            return None

        def view(iid: str, stored: dict[str, Any]) -> dict[str, Any]:
            inv = stored["body"]
            due = stored["total"] - stored["paid"] - stored["credited"]
            return {"InvoiceID": iid, "InvoiceNumber": inv.get("InvoiceNumber"), "Reference": inv.get("Reference"),
                    "Status": stored["status"], "Total": float(stored["total"]), "AmountDue": float(due),
                    "AmountPaid": float(stored["paid"]), "AmountCredited": float(stored["credited"])}

        @app.put("/api.xro/2.0/Invoices")
        def put_invoices() -> Response:
            if (no := refused()) is not None:
                return no
            key = request.headers.get("Idempotency-Key", "")
            if (old := replayed(key)) is not None:
                return old
            body = json.loads(request.get_data(as_text=True), parse_float=Decimal)  # exact numbers
            bad = schema_errors("xero/invoices_put.schema.json", body)
            if bad:
                return problem(400, {"Type": "ValidationException", "Elements": bad})
            out = []
            for inv in body["Invoices"]:
                iid = f"00000000-0000-4000-8000-{next(self.ids):012d}"
                total = sum(Decimal(str(li["LineAmount"])) + Decimal(str(li.get("TaxAmount", 0)))
                            for li in inv["LineItems"])
                self.invoices[iid] = {"body": inv, "total": total, "status": inv.get("Status", "DRAFT"),
                                      "paid": Decimal(0), "credited": Decimal(0)}
                out.append({"InvoiceID": iid, "InvoiceNumber": inv.get("InvoiceNumber"), "Total": float(total),
                            "Status": inv.get("Status")})
            return answer(key, {"Invoices": out})

        @app.get("/api.xro/2.0/Invoices/<ref>")
        def get_invoice(ref: str) -> Response:
            if (no := refused()) is not None:
                return no
            found = find(ref)
            if found is None:
                return problem(404, {"Title": "Not Found", "Detail": "The resource you're looking for cannot be found"})
            return Response(json.dumps({"Invoices": [view(*found)]}), status=200, content_type="application/json")

        @app.post("/api.xro/2.0/Invoices/<ref>")
        def change_invoice(ref: str) -> Response:
            if (no := refused()) is not None:
                return no
            key = request.headers.get("Idempotency-Key", "")
            if (old := replayed(key)) is not None:
                return old
            body = json.loads(request.get_data(as_text=True), parse_float=Decimal)
            bad = schema_errors("xero/invoices_post.schema.json", body)
            if bad:
                return problem(400, {"Type": "ValidationException", "Elements": bad})
            found = find(ref)
            if found is None:
                return problem(404, {"Title": "Not Found", "Detail": "The resource you're looking for cannot be found"})
            iid, stored = found
            [change] = body.get("Invoices") or [{}]
            if change.get("InvoiceNumber") not in (None, stored["body"].get("InvoiceNumber")):
                return invalid("InvoiceNumber does not match the invoice in the path")
            new = change.get("Status")
            if set(change) - {"InvoiceNumber", "InvoiceID", "Status"} or new not in ("VOIDED", "DELETED"):
                return invalid("this double only changes an invoice's Status to VOIDED or DELETED")
            if new == "VOIDED" and stored["status"] != "AUTHORISED":
                return invalid(f"Invoice not of valid status for modification ({stored['status']} cannot be VOIDED)")
            if new == "DELETED" and stored["status"] not in ("DRAFT", "SUBMITTED"):
                return invalid(f"Invoice not of valid status for modification ({stored['status']} cannot be DELETED)")
            if new == "VOIDED" and (stored["paid"] or stored["credited"]):
                return invalid("Invoice cannot be voided as it has payments or credit notes allocated to it")
            stored["status"] = new
            self.status_changes.append((iid, new))
            return answer(key, {"Invoices": [view(iid, stored)]})

        @app.put("/api.xro/2.0/CreditNotes")
        def put_credit_notes() -> Response:
            if (no := refused()) is not None:
                return no
            key = request.headers.get("Idempotency-Key", "")
            if (old := replayed(key)) is not None:
                return old
            body = json.loads(request.get_data(as_text=True), parse_float=Decimal)
            bad = def_errors("CreditNote", "CreditNotes", body)
            if bad:
                return problem(400, {"Type": "ValidationException", "Elements": bad})
            out = []
            for note in body["CreditNotes"]:
                msgs = []
                if note.get("Type") not in ("ACCRECCREDIT", "ACCPAYCREDIT"):
                    msgs.append("Type is required (ACCRECCREDIT or ACCPAYCREDIT)")
                if not (note.get("Contact") or {}).get("ContactID") and not (note.get("Contact") or {}).get("Name"):
                    msgs.append("A Contact (ContactID or Name) is required")
                items = note.get("LineItems") or []
                if not items or any("LineAmount" not in li or "TaxAmount" not in li for li in items):
                    msgs.append("LineItems with LineAmount and TaxAmount are required")
                taken = {c["body"].get("CreditNoteNumber") for c in self.credit_notes.values()}
                if note.get("CreditNoteNumber") in taken:
                    msgs.append("Credit Note # must be unique")
                if msgs:
                    return invalid(*msgs)
                total = sum(_money(li["LineAmount"]) + _money(li["TaxAmount"]) for li in items)
                if total < 0:
                    return invalid("The total of a credit note cannot be negative")
                cid = f"00000000-0000-4000-8000-{next(self.ids):012d}"
                self.credit_notes[cid] = {"body": note, "total": total, "remaining": total,
                                          "status": note.get("Status", "DRAFT")}
                out.append({"CreditNoteID": cid, "CreditNoteNumber": note.get("CreditNoteNumber"),
                            "Total": float(total), "RemainingCredit": float(total), "Status": note.get("Status")})
            return answer(key, {"CreditNotes": out})

        @app.put("/api.xro/2.0/CreditNotes/<cid>/Allocations")
        def put_allocations(cid: str) -> Response:
            if (no := refused()) is not None:
                return no
            key = request.headers.get("Idempotency-Key", "")
            if (old := replayed(key)) is not None:
                return old
            body = json.loads(request.get_data(as_text=True), parse_float=Decimal)
            bad = def_errors("Allocation", "Allocations", body)
            if bad:
                return problem(400, {"Type": "ValidationException", "Elements": bad})
            note = self.credit_notes.get(cid)
            if note is None:
                return problem(404, {"Title": "Not Found", "Detail": "The resource you're looking for cannot be found"})
            out = []
            for alloc in body["Allocations"]:
                found = find(str((alloc.get("Invoice") or {}).get("InvoiceID") or ""))
                if found is None:
                    return invalid("Invoice could not be found")
                iid, inv = found
                amount = _money(alloc["Amount"])
                due = inv["total"] - inv["paid"] - inv["credited"]
                if note["status"] != "AUTHORISED" or inv["status"] != "AUTHORISED":
                    return invalid("Only AUTHORISED credit notes and invoices can be allocated")
                if inv["body"].get("CurrencyCode") != note["body"].get("CurrencyCode"):
                    return invalid("The credit note and the invoice must be in the same currency")
                if amount <= 0 or amount > note["remaining"] or amount > due:
                    return invalid(f"Amount {amount} exceeds the remaining credit {note['remaining']} "
                                   f"or the invoice's amount due {due}")
                note["remaining"] -= amount
                inv["credited"] += amount
                aid = f"00000000-0000-4000-8000-{next(self.ids):012d}"
                self.allocations.append({"AllocationID": aid, "CreditNoteID": cid, "InvoiceID": iid, "Amount": amount,
                                         "Date": alloc["Date"]})
                out.append({"AllocationID": aid, "Amount": float(amount), "Date": alloc["Date"],
                            "Invoice": {"InvoiceID": iid}, "CreditNote": {"CreditNoteID": cid}})
            return answer(key, {"Allocations": out})

    def pay(self, number: str, amount: str) -> None:
        """A payment recorded in Xero against the invoice with this number (it can no longer be voided)."""
        stored = next(s for s in self.invoices.values() if s["body"].get("InvoiceNumber") == number)
        stored["paid"] += Decimal(amount)
