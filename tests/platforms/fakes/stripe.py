"""Stripe double: form bodies, Bearer key, Idempotency-Key replay (same key + same params = first answer;
same key + other params = 400 idempotency_error), invoices that total their items.

Every POST body whose schema ../shared/vendor-specs publishes is decoded the way Stripe reads a form (by the
schema's types) and validated against it before anything else; a violation is refused as Stripe refuses it:
400 ``invalid_request_error`` with ``code`` (``parameter_missing``, ``parameter_unknown``, ...), ``param`` in
Stripe's bracket notation and a message, and nothing is kept under its ``Idempotency-Key`` (Stripe saves no
result for a request that failed validation). Checked: ``POST /v1/invoices``, ``/v1/invoiceitems``,
``/v1/tax_rates``, ``/v1/credit_notes`` and ``/v1/invoices/{id}/finalize|send|void``; the line update
``POST /v1/invoices/{id}/lines/{line}`` has no published schema and is checked by hand below.

Corrections as Stripe documents them: ``POST /v1/invoices/{id}/void`` only for an open invoice (a paid, draft or
already void one is refused with 400, an unknown id is 404); ``POST /v1/credit_notes`` on a finalized invoice:
404 for an unknown invoice, 400 for a draft or void one or for a total above what is left to credit; the
credit first reduces ``amount_remaining`` (pre-payment), the excess (post-payment) must be allocated exactly by
``refund_amount`` + ``credit_amount`` + ``out_of_band_amount``. ``GET /v1/invoices/{id}`` and
``GET /v1/credit_notes?invoice=…`` (newest first, ``limit``/``starting_after``) read them back.
``pay(id)`` marks an open invoice paid, as a customer paying through Stripe would.

Tax as Stripe keeps it: ``GET /v1/invoices/{id}/lines`` and ``POST /v1/invoices/{id}/lines/{line}`` with
``tax_amounts`` (amount, taxable_amount, tax_rate_data; only on a draft, never beside ``tax_rates``) keep the
caller's amounts; ``POST /v1/tax_rates`` (validated against stripe/tax_rates_create.schema.json;
``GET /v1/tax_rates`` lists them); an item with ``tax_rates`` gets, per rate, ``round(amount x percentage /
100)`` half away from zero on that item alone (exclusive rates); the invoice's ``total`` is its items plus those
taxes and ``total_taxes`` lists them per item and rate, so a test compares Stripe's receivable, revenue
(``revenue``) and tax (``tax``) with ours. Amounts must be Stripe's units (``currencies.json``): an ISK, UGX
amount not ending in 00 or a three-decimal amount not ending in 0 is refused, as Stripe documents."""

from __future__ import annotations

import itertools
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Flask, Response, jsonify, request

from tests.paths import VENDOR_SPECS
from tests.platforms.fakes.server import LocalServer, problem
from tests.platforms.schemas import validator

CURRENCIES = json.loads((VENDOR_SPECS / "stripe" / "currencies.json").read_text(encoding="utf-8"))


def step_of(currency: str) -> int:
    """The multiple a Stripe amount in ``currency`` must be, read from Stripe's currency list."""
    code = currency.upper()
    if code in CURRENCIES["special_cases"]:
        return int(CURRENCIES["special_cases"][code]["charges"]["amount_multiple_of"])
    if code in CURRENCIES["three_decimal"]["currencies"]:
        return int(CURRENCIES["three_decimal"]["charges"]["amount_multiple_of"])
    return 1


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``a[b][0]=x`` -> ``{"a": {"b": {"0": "x"}}}`` (lists stay index-keyed dicts; enough for checks)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def form_by_schema(value: Any, schema: dict[str, Any]) -> Any:
    """Read an unflattened form value the way Stripe does, by the parameter's declared type: digits become an
    integer only where an integer is expected (a memo or metadata value ``"2026"`` stays a string), index-keyed
    dicts become lists only where a list is expected; anything that does not fit is left for the validator."""
    if "anyOf" in schema:
        if value == "" and any(b.get("enum") == [""] for b in schema["anyOf"]):
            return value
        branches = [b for b in schema["anyOf"] if b.get("enum") != [""]]
        return form_by_schema(value, branches[0]) if branches else value
    kind = schema.get("type")
    if kind == "integer" and isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    if kind == "number" and isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
        return float(value) if "." in value else int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    if kind == "array" and isinstance(value, dict) and all(k.isdigit() for k in value):
        return [form_by_schema(value[k], schema.get("items", {})) for k in sorted(value, key=int)]
    if kind == "object" and isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        return {k: form_by_schema(v, props.get(k, extra if isinstance(extra, dict) else {}))
                for k, v in value.items()}
    return value


def stripe_param(path: Any) -> str:
    """A JSON path as Stripe names the parameter: ``lines[0][tax_amounts][0][tax_rate]``."""
    parts = [str(p) for p in path]
    return parts[0] + "".join(f"[{p}]" for p in parts[1:]) if parts else ""


def _first(errors: Any) -> Any:
    """The error Stripe would report first: missing/unknown parameters before bad values, in path order; inside
    an ``anyOf`` the reason from the real branch (not from the ``""`` that clears the parameter)."""
    ranked = sorted(errors, key=lambda e: (e.validator not in ("required", "additionalProperties"),
                                           list(map(str, e.absolute_path))))
    if not ranked:
        return None
    err = ranked[0]
    if err.validator == "anyOf" and err.context:
        real = [c for c in err.context if err.validator_value[c.schema_path[0]].get("enum") != [""]]
        return _first(real) or err
    return err


def schema_refusal(rel: str, params: dict[str, Any]) -> Response | None:
    """Stripe's 400 for a body that breaks the published schema ``rel`` (None when it conforms): the first
    missing or unknown parameter, else the first invalid one, with Stripe's ``code`` and ``param``."""
    check = validator(rel)
    body = form_by_schema(params, check.schema)
    err = _first(check.iter_errors(body))
    if err is None:
        return None
    where = list(err.absolute_path)
    error: dict[str, Any] = {"type": "invalid_request_error"}
    if err.validator == "required":
        missing = [k for k in err.validator_value if k not in err.instance][0]
        error.update(code="parameter_missing", param=stripe_param([*where, missing]),
                     message=f"Missing required param: {stripe_param([*where, missing])}.")
    elif err.validator == "additionalProperties":
        unknown = sorted(set(err.instance) - set(err.schema.get("properties", {})))[0]
        error.update(code="parameter_unknown", param=stripe_param([*where, unknown]),
                     message=f"Received unknown parameter: {stripe_param([*where, unknown])}")
    elif err.validator == "type" and err.validator_value == "integer":
        error.update(code="parameter_invalid_integer", param=stripe_param(where),
                     message=f"Invalid integer: {err.instance}")
    else:
        error.update(param=stripe_param(where), message=f"Invalid {stripe_param(where)}: {err.message}")
    return problem(400, {"error": error})


class StripeDouble(LocalServer):
    def routes(self, app: Flask) -> None:
        self.invoices: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, tuple[str, dict[str, Any], Response]] = {}
        self.credit_notes: dict[str, dict[str, Any]] = {}
        self.lost_posts: dict[str, int] = {}  # exact path -> POSTs whose answer is lost (``lose`` is by prefix)
        self.tax_rates: dict[str, dict[str, Any]] = {}
        self.tax_rate_ids = itertools.count(1)  # own counter: invoice ids stay in_1, in_2… as before

        def authorized() -> bool:
            return request.headers.get("Authorization") == "Bearer sk_test_123"

        def guarded(create: Any, schema: str | None = None) -> Response:
            """Auth, then the ``Idempotency-Key`` replay, then the published schema (a refusal is not kept under
            the key), then ``create``."""
            if not authorized():
                return problem(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
            params = unflatten(list(request.form.items(multi=True)))
            key = request.headers.get("Idempotency-Key")
            if key and key in self.keys:
                path, seen, resp = self.keys[key]
                if (path, seen) != (request.path, params):
                    return problem(400, {"error": {"type": "idempotency_error",
                                                   "message": "Keys for idempotent requests can only be used "
                                                              "with the same parameters they were first used with."}})
                replay = Response(resp.get_data(), status=resp.status_code, content_type="application/json")
                replay.headers["Idempotent-Replayed"] = "true"
                return replay
            refused = schema_refusal(schema, params) if schema else None
            if refused is not None:
                return refused
            resp = create(params)
            if key:
                self.keys[key] = (request.path, params, resp)
            if resp.status_code < 300 and self.lost_posts.get(request.path):
                self.lost_posts[request.path] -= 1  # done and remembered under its key; the answer is lost
                return problem(500, {"error": {"type": "api_error", "message": "lost answer"}})
            return resp

        @app.post("/v1/invoices")
        def create_invoice() -> Response:
            def create(p: dict[str, Any]) -> Response:
                iid = f"in_{next(self.ids)}"
                self.invoices[iid] = {"id": iid, "status": "draft", "params": p, "items": [], "sent": 0}
                return jsonify(id=iid, object="invoice", status="draft")
            return guarded(create, "stripe/invoices_create.schema.json")

        @app.post("/v1/tax_rates")
        def create_tax_rate() -> Response:
            def create(p: dict[str, Any]) -> Response:
                tid = f"txr_{next(self.tax_rate_ids)}"
                self.tax_rates[tid] = {"id": tid, "object": "tax_rate", "active": True, **form_by_schema(p, validator("stripe/tax_rates_create.schema.json").schema),
                                       "percentage": float(p["percentage"])}
                self.tax_rates[tid]["percentage_text"] = p["percentage"]
                return jsonify(self.tax_rates[tid])
            return guarded(create, "stripe/tax_rates_create.schema.json")

        @app.get("/v1/tax_rates")
        def list_tax_rates() -> Response:
            if not authorized():
                return problem(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
            rates = list(reversed(list(self.tax_rates.values())))
            after = request.args.get("starting_after")
            if after:
                ids = [r["id"] for r in rates]
                rates = rates[ids.index(after) + 1:] if after in ids else []
            limit = int(request.args.get("limit", "10"))
            return jsonify(object="list", data=rates[:limit], has_more=len(rates) > limit, url="/v1/tax_rates")

        @app.post("/v1/invoiceitems")
        def create_item() -> Response:
            def create(p: dict[str, Any]) -> Response:
                inv = self.invoices.get(p.get("invoice", ""))
                if inv is None or inv["status"] != "draft":
                    return problem(400, {"error": {"message": "No such draft invoice"}})
                step = step_of(p.get("currency") or inv["params"].get("currency", ""))
                if int(p["amount"]) % step:
                    return problem(400, {"error": {"type": "invalid_request_error", "code": "invalid_amount",
                                                   "message": f"Amounts in {p.get('currency')} must be a multiple "
                                                              f"of {step}."}})
                for tid in (p.get("tax_rates") or {}).values():
                    if tid not in self.tax_rates:
                        return problem(400, {"error": {"message": f"No such tax rate: '{tid}'"}})
                iid = f"ii_{next(self.ids)}"
                self.items[iid] = dict(p)  # a copy: line updates must not touch the replay record
                inv["items"].append(iid)
                return jsonify(id=iid, object="invoiceitem", amount=int(p["amount"]))
            return guarded(create, "stripe/invoiceitems_create.schema.json")

        @app.post("/v1/invoices/<iid>/<action>")
        def act(iid: str, action: str) -> Response:
            def create(p: dict[str, Any]) -> Response:
                inv = self.invoices.get(iid)
                if inv is None or action not in ("finalize", "send", "void"):
                    return problem(404, {"error": {"message": "No such invoice"}})
                if action == "void":
                    if inv["status"] != "open":
                        return problem(400, {"error": {"type": "invalid_request_error", "message":
                                                       f"You can only pass in open or uncollectible invoices. "
                                                       f"This invoice is {inv['status']}."}})
                    inv["status"], inv["amount_remaining"] = "void", 0
                    return jsonify(self._invoice_object(iid))
                if action == "finalize":
                    if inv["status"] != "draft":
                        return problem(400, {"error": {"message": "This invoice is already finalized"}})
                    inv["status"] = "open"
                    inv["number"] = f"EVB-{len([i for i in self.invoices.values() if 'number' in i]) + 1:04d}"
                    inv["total"] = inv["amount_due"] = inv["amount_remaining"] = self._items_total(inv)
                    inv["total_taxes"] = self._taxes(inv)
                    inv["amount_paid"] = 0
                elif inv["status"] != "open":
                    return problem(400, {"error": {"message": "Invoice is not open"}})
                else:
                    inv["sent"] += 1
                total = self._items_total(inv)
                return jsonify(id=iid, object="invoice", status=inv["status"], amount_due=total,
                               number=inv["number"])
            known = action in ("finalize", "send", "void") and iid in self.invoices  # else 404, as Stripe
            return guarded(create, f"stripe/invoices_{action}.schema.json" if known else None)

        @app.get("/v1/invoices/<iid>/lines")
        def list_lines(iid: str) -> Response:
            if not authorized():
                return problem(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
            inv = self.invoices.get(iid)
            if inv is None:
                return problem(404, {"error": {"code": "resource_missing", "message": f"No such invoice: '{iid}'"}})
            lines = [{"id": f"il_{i}", "object": "line_item", "amount": int(self.items[i]["amount"]),
                      "parent": {"type": "invoice_item_details", "invoice_item_details": {"invoice_item": i}}}
                     for i in inv["items"]]
            after = request.args.get("starting_after")
            if after:
                ids = [ln["id"] for ln in lines]
                lines = lines[ids.index(after) + 1:] if after in ids else []
            limit = int(request.args.get("limit", "10"))
            return jsonify(object="list", data=lines[:limit], has_more=len(lines) > limit)

        @app.post("/v1/invoices/<iid>/lines/<lid>")
        def update_line(iid: str, lid: str) -> Response:
            def create(p: dict[str, Any]) -> Response:
                inv = self.invoices.get(iid)
                item_id = lid.removeprefix("il_")
                if inv is None or item_id not in inv["items"]:
                    return problem(404, {"error": {"code": "resource_missing", "message": f"No such line: '{lid}'"}})
                if inv["status"] != "draft":
                    return problem(400, {"error": {"message": "You can only update lines of a draft invoice."}})
                if any(self.items[i].get("tax_rates") for i in inv["items"]):
                    return problem(400, {"error": {"message": "You cannot set tax amounts if any line item has "
                                                              "tax_rates."}})
                if set(p) - {"tax_amounts", "description", "metadata", "amount", "discountable"}:
                    return problem(400, {"error": {"message": f"Received unknown parameter: {sorted(p)[0]}"}})
                amounts = [p["tax_amounts"][k] for k in sorted(p.get("tax_amounts") or {}, key=int)]
                if len(amounts) > 10:
                    return problem(400, {"error": {"message": "tax_amounts: at most 10"}})
                for t in amounts:
                    data = t.get("tax_rate_data") or {}
                    if not all(k in t for k in ("amount", "taxable_amount")) or not all(
                            k in data for k in ("display_name", "inclusive", "percentage")):
                        return problem(400, {"error": {"message": "tax_amounts[]: amount, taxable_amount and "
                                                                  "tax_rate_data[display_name|inclusive|percentage] "
                                                                  "are required"}})
                self.items[item_id]["tax_amounts"] = amounts
                return jsonify(id=lid, object="line_item", amount=int(self.items[item_id]["amount"]),
                               taxes=[{"amount": int(t["amount"]), "type": "tax_rate_details"} for t in amounts])
            return guarded(create)

        @app.get("/v1/invoices/<iid>")
        def read_invoice(iid: str) -> Response:
            if not authorized():
                return problem(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
            if iid not in self.invoices:
                return problem(404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                               "message": f"No such invoice: '{iid}'"}})
            return jsonify(self._invoice_object(iid))

        @app.post("/v1/credit_notes")
        def create_credit_note() -> Response:
            return guarded(self._credit, "stripe/credit_notes_create.schema.json")

        @app.get("/v1/credit_notes")
        def list_credit_notes() -> Response:
            if not authorized():
                return problem(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
            notes = [n for n in reversed(list(self.credit_notes.values()))
                     if request.args.get("invoice") in (None, n["invoice"])]
            after = request.args.get("starting_after")
            if after:
                ids = [n["id"] for n in notes]
                notes = notes[ids.index(after) + 1:] if after in ids else []
            limit = int(request.args.get("limit", "10"))
            return jsonify(object="list", data=notes[:limit], has_more=len(notes) > limit, url="/v1/credit_notes")

    def _taxes(self, inv: dict[str, Any]) -> list[dict[str, Any]]:
        """Stripe's exclusive tax per item and rate: the item's amount x percentage, rounded on the item."""
        out = []
        for iid in inv["items"]:
            item = self.items[iid]
            for t in item.get("tax_amounts") or []:  # amounts set by the caller: Stripe keeps them as given
                out.append({"amount": int(t["amount"]), "tax_behavior": "exclusive",
                            "taxable_amount": int(t["taxable_amount"]),
                            "tax_rate_details": {"display_name": t["tax_rate_data"]["display_name"],
                                                 "percentage": t["tax_rate_data"]["percentage"]},
                            "taxability_reason": "standard_rated"})
            for tid in (item.get("tax_rates") or {}).values():
                pct = Decimal(self.tax_rates[tid]["percentage_text"])
                amount = int((Decimal(item["amount"]) * pct / 100).to_integral_value(ROUND_HALF_UP))
                out.append({"amount": amount, "tax_behavior": "exclusive", "taxable_amount": int(item["amount"]),
                            "tax_rate_details": {"tax_rate": tid}, "taxability_reason": "standard_rated"})
        return out

    def _items_total(self, inv: dict[str, Any]) -> int:
        return self.revenue(inv) + sum(t["amount"] for t in self._taxes(inv))

    def revenue(self, inv: dict[str, Any]) -> int:
        """Stripe's subtotal: the items before tax (tax items of ``tax_mode="items"`` count as revenue here,
        as they do in Stripe's reports)."""
        return sum(int(self.items[i]["amount"]) for i in inv["items"])

    def tax(self, inv: dict[str, Any]) -> int:
        """What Stripe's tax reports hold for the invoice."""
        return sum(t["amount"] for t in self._taxes(inv))

    def _invoice_object(self, iid: str) -> dict[str, Any]:
        inv = self.invoices[iid]
        keys = ("status", "number", "total", "amount_due", "amount_paid", "amount_remaining")
        live = {"total": self._items_total(inv), "total_taxes": self._taxes(inv)} if inv["status"] == "draft" else {
            "total_taxes": inv.get("total_taxes", [])}
        return {"id": iid, "object": "invoice", **{k: inv.get(k) for k in keys}, **live,
                "pre_payment_credit_notes_amount": inv.get("pre_credit", 0),
                "post_payment_credit_notes_amount": inv.get("post_credit", 0)}

    def pay(self, iid: str) -> None:
        """The customer pays the open invoice through Stripe."""
        inv = self.invoices[iid]
        assert inv["status"] == "open", inv["status"]
        inv["amount_paid"], inv["amount_remaining"], inv["status"] = inv["amount_remaining"], 0, "paid"

    def _credit(self, p: dict[str, Any]) -> Response:
        """``POST /v1/credit_notes`` (after auth and idempotency)."""
        def bad(message: str, status: int = 400) -> Response:
            return problem(status, {"error": {"type": "invalid_request_error", "message": message}})

        inv = self.invoices.get(p.get("invoice", ""))
        if inv is None:
            return bad(f"No such invoice: '{p.get('invoice')}'", 404)
        if inv["status"] not in ("open", "paid"):
            return bad(f"Credit notes can only be created on finalized invoices (this one is {inv['status']}).")
        if not {"amount", "lines", "shipping_cost"} & set(p):  # the spec's description; the schema cannot say it
            return bad("One of amount, lines or shipping_cost is required.")
        unsupported = sorted(set(p) & {"refunds", "shipping_cost"})  # valid for Stripe (schema-checked already)
        if unsupported:
            return bad(f"{unsupported[0]}: not modelled by this double")
        try:
            lines = [p["lines"][k] for k in sorted(p.get("lines", {}), key=int)]
            total = 0
            for ln in lines:
                if ln.get("type") != "custom_line_item":
                    return bad("lines[][type]: only custom_line_item is supported by this double")
                amount, qty = int(ln["unit_amount"]), int(ln.get("quantity", "1"))
                if amount < 0 or qty < 1:
                    return bad("lines[][unit_amount] must be a positive integer")
                taxes = [int(t["amount"]) for t in (ln.get("tax_amounts") or {}).values()]
                if any(t < 0 for t in taxes):
                    return bad("lines[][tax_amounts][][amount] must be positive")
                total += amount * qty + sum(taxes)
            if "amount" in p:
                if lines and int(p["amount"]) != total:
                    return bad("amount must equal the sum of the lines")
                total = int(p["amount"])
            allocated = {k: int(p.get(f"{k}_amount", "0")) for k in ("refund", "credit", "out_of_band")}
        except (KeyError, ValueError) as exc:
            return bad(f"Invalid credit note parameters: {exc}")
        if total <= 0:
            return bad("The credit note total must be greater than 0")
        credited = sum(n["total"] for n in self.credit_notes.values() if n["invoice"] == inv["id"])
        if total > inv["total"] - credited:
            return bad(f"The sum of credit amounts ({total}) exceeds the invoice's remaining creditable amount "
                       f"({inv['total'] - credited}).")
        pre = min(total, inv["amount_remaining"])
        post = total - pre
        if sum(allocated.values()) != post:
            return bad(f"The sum of refund, credit and out of band amounts ({sum(allocated.values())}) must equal "
                       f"the post-payment amount ({post}).")
        inv["amount_remaining"] -= pre
        inv["amount_due"] -= pre
        inv["pre_credit"] = inv.get("pre_credit", 0) + pre
        inv["post_credit"] = inv.get("post_credit", 0) + post
        if inv["status"] == "open" and inv["amount_remaining"] == 0:
            inv["status"] = "paid"  # fully credited before payment: nothing left to pay
        cid = f"cn_{next(self.ids)}"
        note = {"id": cid, "object": "credit_note", "invoice": inv["id"], "status": "issued", "total": total,
                "amount": total, "pre_payment_amount": pre, "post_payment_amount": post,
                **{f"{k}_amount": v for k, v in allocated.items()}, "memo": p.get("memo"),
                "metadata": p.get("metadata", {}), "lines": lines, "number": f"{inv['number']}-CN-{len(self.credit_notes) + 1:02d}"}
        self.credit_notes[cid] = note
        return jsonify(note)
