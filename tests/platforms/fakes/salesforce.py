"""Salesforce routes of the messaging and CRM double (``FakeVendors`` in ``vendors.py``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, jsonify, request


class Salesforce:
    """Mixed into ``FakeVendors`` (one server for the five vendors: shared request log, ids and scripted
    failures); ``install_salesforce`` adds this vendor's state and routes."""

    def install_salesforce(self, app: Flask) -> None:
        self.sf_records: dict[tuple[str, str, str], dict[str, Any]] = {}

        @app.post("/services/oauth2/token")
        def sf_token() -> Response:
            self.tokens_issued += 1
            return jsonify(access_token=f"sf-token-{self.tokens_issued}", token_type="Bearer",
                           instance_url=self.url)

        @app.patch("/services/data/<version>/sobjects/<sobject>/<field>/<path:value>")
        def sf_upsert(version: str, sobject: str, field: str, value: str) -> Response:
            if not request.headers.get("Authorization", "").startswith("Bearer "):
                return Response(json.dumps([{"errorCode": "INVALID_SESSION_ID", "message": "Session expired"}]),
                                status=401, content_type="application/json")
            body = request.get_json()
            if field in body:
                return Response(json.dumps([{"errorCode": "INVALID_FIELD",
                                             "message": f"{field} is in the URL and the body"}]),
                                status=400, content_type="application/json")
            key = (sobject, field, value)
            if key in self.sf_records:
                self.sf_records[key].update(body)
                return Response(json.dumps({"id": self.sf_records[key]["Id"], "success": True, "created": False}),
                                status=200, content_type="application/json")
            record_id = f"500{next(self.ids):015d}"
            self.sf_records[key] = {"Id": record_id, **body}
            return Response(json.dumps({"id": record_id, "success": True, "errors": [], "created": True}),
                            status=201, content_type="application/json")
