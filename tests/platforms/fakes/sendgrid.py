"""SendGrid routes of the messaging and CRM double (``FakeVendors`` in ``vendors.py``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, request


class SendGrid:
    """Mixed into ``FakeVendors`` (one server for the five vendors: shared request log, ids and scripted
    failures); ``install_sendgrid`` adds this vendor's state and routes."""

    def install_sendgrid(self, app: Flask) -> None:
        self.emails: list[dict[str, Any]] = []

        @app.post("/v3/mail/send")
        def sendgrid() -> Response:
            if request.headers.get("Authorization") != "Bearer SG.test":
                return Response(json.dumps({"errors": [{"message": "The provided authorization grant is invalid"}]}),
                                status=401, content_type="application/json")
            self.emails.append(request.get_json())
            return Response("", status=202, headers={"X-Message-Id": f"msg-{next(self.ids)}"})
