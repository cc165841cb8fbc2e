"""Slack routes of the messaging and CRM double (``FakeVendors`` in ``vendors.py``)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request


class Slack:
    """Mixed into ``FakeVendors`` (one server for the five vendors: shared request log, ids and scripted
    failures); ``install_slack`` adds this vendor's state and routes."""

    def install_slack(self, app: Flask) -> None:
        self.slack_messages: list[dict[str, Any]] = []

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
