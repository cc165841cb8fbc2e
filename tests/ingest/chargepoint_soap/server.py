"""A local SOAP server for ChargePoint's getChargingSessionData, built from the WSDL next to this file.

It serves the WSDL (with its own address), checks the WS-Security UsernameToken, filters its sessions by
start time in [fromTimeStamp, toTimeStamp] and answers ``page_size`` of them from ``startRecord`` with
``MoreFlag``; code 136 when none match. Every request is recorded for the test to inspect.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from xml.sax.saxutils import escape

from lxml import etree

WSDL = Path(__file__).with_name("cp_api_sessions.wsdl")
NS = "urn:dictionary:com.chargepoint.webservices"
FIELDS = ("stationID", "stationName", "portNumber", "sessionID", "Energy", "startTime", "endTime", "userID")


class _Quiet(WSGIRequestHandler):
    def log_message(self, *_: Any) -> None:
        pass


def _text(root: Any, name: str) -> str | None:
    found = root.xpath(f"//*[local-name()='{name}']")
    return found[0].text if found else None


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class ChargePointSoapDouble:
    def __init__(self, sessions: list[dict[str, str]], user: str, password: str, page_size: int = 2) -> None:
        self.sessions, self.user, self.password, self.page_size = sessions, user, password, page_size
        self.requests: list[dict[str, str | None]] = []
        self.server: WSGIServer = make_server("127.0.0.1", 0, self.app, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webservices/chargepoint"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ChargePointSoapDouble:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            body = WSDL.read_text(encoding="utf-8").replace("SERVICE_ADDRESS", self.url)
            start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
            return [body.encode()]
        size = int(environ.get("CONTENT_LENGTH") or 0)
        root = etree.fromstring(environ["wsgi.input"].read(size))
        query = {name: _text(root, name) for name in ("Username", "Password", "fromTimeStamp", "toTimeStamp",
                                                      "startRecord")}
        self.requests.append(query)
        if (query["Username"], query["Password"]) != (self.user, self.password):
            return self._reply(start_response, "500 Internal Server Error", (
                "<soap:Fault><faultcode>soap:Client</faultcode>"
                "<faultstring>User authentication failed</faultstring></soap:Fault>"))
        since, until = _instant(str(query["fromTimeStamp"])), _instant(str(query["toTimeStamp"]))
        matching = [s for s in self.sessions if since <= _instant(s["startTime"]) <= until]
        if not matching:
            return self._reply(start_response, "200 OK", self._response("136", "No data found", [], 0))
        first = int(query["startRecord"] or 1) - 1
        page = matching[first:first + self.page_size]
        more = 1 if first + self.page_size < len(matching) else 0
        return self._reply(start_response, "200 OK", self._response("100", "API input request executed successfully.",
                                                                    page, more))

    @staticmethod
    def _response(code: str, text: str, rows: list[dict[str, str]], more: int) -> str:
        items = "".join("<ChargingSessionData>" + "".join(
            f"<{k}>{escape(row[k])}</{k}>" for k in FIELDS if row.get(k)) + "</ChargingSessionData>" for row in rows)
        return (f'<ns1:getChargingSessionDataResponse xmlns:ns1="{NS}"><responseCode>{code}</responseCode>'
                f"<responseText>{escape(text)}</responseText>{items}<MoreFlag>{more}</MoreFlag>"
                "</ns1:getChargingSessionDataResponse>")

    @staticmethod
    def _reply(start_response: Any, status: str, body: str) -> list[bytes]:
        envelope = ('<?xml version="1.0" encoding="UTF-8"?><soap:Envelope '
                    f'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{body}</soap:Body>'
                    "</soap:Envelope>")
        start_response(status, [("Content-Type", "text/xml; charset=utf-8")])
        return [envelope.encode()]
