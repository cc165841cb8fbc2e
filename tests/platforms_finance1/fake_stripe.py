"""Stripe double: form bodies, Bearer key, Idempotency-Key replay (same key + same params = first answer;
same key + other params = 400 idempotency_error), invoices that total their items."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, jsonify, request

from .fakes import Double, problem


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


class StripeDouble(Double):
    def routes(self, app: Flask) -> None:
        self.invoices: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, tuple[str, dict[str, Any], Response]] = {}

        def guarded(create: Any) -> Response:
            if request.headers.get("Authorization") != "Bearer sk_test_123":
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
            resp = create(params)
            if key:
                self.keys[key] = (request.path, params, resp)
            return resp

        @app.post("/v1/invoices")
        def create_invoice() -> Response:
            def create(p: dict[str, Any]) -> Response:
                iid = f"in_{next(self.ids)}"
                self.invoices[iid] = {"id": iid, "status": "draft", "params": p, "items": [], "sent": 0}
                return jsonify(id=iid, object="invoice", status="draft")
            return guarded(create)

        @app.post("/v1/invoiceitems")
        def create_item() -> Response:
            def create(p: dict[str, Any]) -> Response:
                inv = self.invoices.get(p.get("invoice", ""))
                if inv is None or inv["status"] != "draft":
                    return problem(400, {"error": {"message": "No such draft invoice"}})
                iid = f"ii_{next(self.ids)}"
                self.items[iid] = p
                inv["items"].append(iid)
                return jsonify(id=iid, object="invoiceitem", amount=int(p["amount"]))
            return guarded(create)

        @app.post("/v1/invoices/<iid>/<action>")
        def act(iid: str, action: str) -> Response:
            def create(p: dict[str, Any]) -> Response:
                inv = self.invoices.get(iid)
                if inv is None or action not in ("finalize", "send"):
                    return problem(404, {"error": {"message": "No such invoice"}})
                if action == "finalize":
                    if inv["status"] != "draft":
                        return problem(400, {"error": {"message": "This invoice is already finalized"}})
                    inv["status"] = "open"
                    inv["number"] = f"EVB-{len([i for i in self.invoices.values() if 'number' in i]) + 1:04d}"
                elif inv["status"] != "open":
                    return problem(400, {"error": {"message": "Invoice is not open"}})
                else:
                    inv["sent"] += 1
                total = sum(int(self.items[i]["amount"]) for i in inv["items"])
                return jsonify(id=iid, object="invoice", status=inv["status"], amount_due=total,
                               number=inv["number"])
            return guarded(create)
