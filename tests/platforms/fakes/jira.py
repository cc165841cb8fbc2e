"""Jira routes of the messaging and CRM double (``FakeVendors`` in ``vendors.py``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, jsonify, request


class Jira:
    """Mixed into ``FakeVendors`` (one server for the five vendors: shared request log, ids and scripted
    failures); ``install_jira`` adds this vendor's state and routes."""

    def install_jira(self, app: Flask) -> None:
        self.jira_issues: list[dict[str, Any]] = []

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
