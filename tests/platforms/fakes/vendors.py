"""Local vendor doubles on 127.0.0.1 (port 0): SendGrid, Slack, Jira, Salesforce, Zoho Analytics.

Each records every request and can replay scripted failures (429 with Retry-After, 500) before
answering normally, so retries are exercised over real HTTP. Vendor semantics that matter for
duplicates are implemented: Jira label search, Salesforce external-id upsert, Zoho updateadd.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, jsonify, request

from tests.platforms.fakes.server import LocalServer


class FakeVendors(LocalServer):
    def __init__(self) -> None:
        self.emails: list[dict[str, Any]] = []
        self.slack_messages: list[dict[str, Any]] = []
        self.jira_issues: list[dict[str, Any]] = []
        self.sf_records: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.zoho_rows: dict[str, dict[str, dict[str, str]]] = {}
        self.tokens_issued = 0
        super().__init__()

    def routes(self, app: Flask) -> None:  # noqa: C901 - one closure per vendor keeps the doubles readable
        @app.post("/v3/mail/send")
        def sendgrid() -> Response:
            if request.headers.get("Authorization") != "Bearer SG.test":
                return Response(json.dumps({"errors": [{"message": "The provided authorization grant is invalid"}]}),
                                status=401, content_type="application/json")
            self.emails.append(request.get_json())
            return Response("", status=202, headers={"X-Message-Id": f"msg-{next(self.ids)}"})

        @app.post("/api/chat.postMessage")
        def slack_post() -> Response:
            body = request.get_json()
            if request.headers.get("Authorization") != "Bearer xoxb-test":
                return jsonify(ok=False, error="invalid_auth")
            if body.get("channel") == "C0GONE":
                return jsonify(ok=False, error="channel_not_found")
            self.slack_messages.append(body)
            return jsonify(ok=True, channel=body["channel"], ts=f"1700000000.{next(self.ids):06d}")

        @app.post("/services/T000/B000/secret")
        def slack_hook() -> Response:
            self.slack_messages.append(request.get_json())
            return Response("ok", status=200, content_type="text/plain")

        @app.post("/rest/api/3/search/jql")
        def jira_search() -> Response:
            jql = request.get_json()["jql"]
            label = jql.split('labels = "', 1)[1].rstrip('"')
            hits = [{"id": i["id"], "key": i["key"]} for i in self.jira_issues if label in i["fields"]["labels"]]
            return jsonify(issues=hits[:1], isLast=True)

        @app.post("/rest/api/3/issue")
        def jira_create() -> Response:
            body = request.get_json()
            n = len(self.jira_issues) + 1
            issue = {"id": str(10000 + n), "key": f"{body['fields']['project']['key']}-{n}", "fields": body["fields"]}
            self.jira_issues.append(issue)
            return Response(json.dumps({"id": issue["id"], "key": issue["key"], "self": f"{self.url}/x"}),
                            status=201, content_type="application/json")

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
