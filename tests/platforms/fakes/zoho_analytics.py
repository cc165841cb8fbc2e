"""Zoho Analytics routes of the messaging and CRM double (``FakeVendors`` in ``vendors.py``)."""

from __future__ import annotations

import json

from flask import Flask, Response, jsonify, request


class ZohoAnalytics:
    """Mixed into ``FakeVendors`` (one server for the five vendors: shared request log, ids and scripted
    failures); ``install_zoho_analytics`` adds this vendor's state and routes."""

    def install_zoho_analytics(self, app: Flask) -> None:
        self.zoho_rows: dict[str, dict[str, dict[str, str]]] = {}

        @app.post("/oauth/v2/token")
        def zoho_token() -> Response:
            self.tokens_issued += 1
            return jsonify(access_token=f"zoho-token-{self.tokens_issued}", expires_in=3600, token_type="Bearer")

        @app.post("/restapi/v2/workspaces/<wid>/views/<vid>/data")
        def zoho_import(wid: str, vid: str) -> Response:
            if not request.headers.get("Authorization", "").startswith("Zoho-oauthtoken "):
                return Response(json.dumps({"status": "failure", "data": {"errorCode": 8535}}), status=401,
                                content_type="application/json")
            if not request.headers.get("ZANALYTICS-ORGID"):
                return Response(json.dumps({"status": "failure", "data": {"errorCode": 7103}}), status=400,
                                content_type="application/json")
            config = json.loads(request.args["CONFIG"])
            rows = json.loads(request.form["DATA"])
            table = self.zoho_rows.setdefault(vid, {})
            added = updated = 0
            for row in rows:
                key = "|".join(row[c] for c in config.get("matchingColumns", []))
                if config["importType"] == "updateadd" and key in table:
                    table[key].update(row)
                    updated += 1
                else:
                    table[key or str(next(self.ids))] = dict(row)
                    added += 1
            return jsonify(status="success", summary="Import data",
                           data={"importSummary": {"importType": config["importType"], "totalRowCount": len(rows),
                                                   "successRowCount": added + updated}})
