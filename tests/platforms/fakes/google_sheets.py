"""Google Sheets double: a small Sheets API v4 + OAuth token endpoint on 127.0.0.1, enough for gspread's calls
in the sync, and the service account that points google-auth at it.

Every ``values.append`` body is validated against the vendor contract
``../shared/vendor-specs/google_sheets/values_append.schema.json`` (JSON nulls stripped first, as
the API treats them as unset) and its query parameters against the schema's ``x-parameters``; an
invalid request gets the API's 400 and is recorded in ``invalid``. ``inject`` queues errors per kind of
call (``append``, ``batchGet``...), which ``injected`` holds until they are served.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import jsonschema
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, request

from tests.paths import VENDOR_SPECS
from tests.platforms.fakes.server import LocalServer

SPREADSHEET_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
SCHEMA = json.loads((VENDOR_SPECS / "google_sheets" / "values_append.schema.json").read_text())
BODY_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
PARAMS = SCHEMA["x-parameters"]["properties"]
# google-auth signs service-account assertions for Google's token endpoint whatever token_uri says
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


def strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def append_problems(body: Any, params: dict[str, str]) -> list[str]:
    """Why a values.append request breaks the contract (empty list: it is valid)."""
    problems = [e.message for e in BODY_VALIDATOR.iter_errors(strip_nulls(body))]
    for name, value in params.items():
        spec = PARAMS.get(name)
        if spec is None or spec.get("x-location") != "query":
            problems.append(f"unknown query parameter {name}")
        elif "enum" in spec and value not in spec["enum"]:
            problems.append(f"{name}: {value!r} is not one of {spec['enum']}")
    return problems


def _sheet_and_cells(a1: str) -> tuple[str, str]:
    title, _, cells = a1.rpartition("!") if "!" in a1 else (a1, "", "")
    if title.startswith("'") and title.endswith("'"):
        title = title[1:-1].replace("''", "'")
    return title, cells


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account(key: rsa.RSAPrivateKey, token_uri: str) -> dict[str, Any]:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "evbill-test", "private_key_id": "k1", "private_key": pem,
            "client_email": "sync@evbill-test.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": token_uri}


class FakeSheets(LocalServer):
    """State: one spreadsheet id -> tabs (title -> rows of strings); a log of every Sheets call."""

    def __init__(self, spreadsheet_id: str, public_key: Any, token_uri_path: str = "/token") -> None:
        self.spreadsheet_id = spreadsheet_id
        self.public_key = public_key
        self.token_uri_path = token_uri_path
        self.tabs: dict[str, list[list[Any]]] = {"Sheet1": []}
        self.sheet_ids: dict[str, int] = {"Sheet1": 0}
        # number formats set by repeatCell: tab -> (row, column) -> {"type": ..., "pattern": ...}
        self.formats: dict[str, dict[tuple[int, int], dict[str, str]]] = {}
        self.log: list[dict[str, Any]] = []
        self.invalid: list[list[str]] = []
        self.injected: dict[str, list[tuple[int, bool, dict[str, str]]]] = {}
        self.tokens_issued = 0
        super().__init__()

    # ---- helpers
    def inject(self, kind: str, status: int, *, apply: bool = False, retry_after: str | None = None) -> None:
        """Answer the next ``kind`` request (``append``, ``batchGet``, ``metadata`` ...) with ``status``;
        ``apply=True`` performs the write first (the ambiguous 'landed, then 5xx' case)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.injected.setdefault(kind, []).append((status, apply, headers))

    def shown(self, title: str) -> list[list[Any]]:
        """A tab as a person sees it (every number in its cell's format), trailing blanks trimmed."""
        return self._values(title)

    def kinds(self) -> list[str]:
        return [entry["kind"] for entry in self.log]

    def _shown(self, title: str, r: int, c: int, value: Any) -> Any:
        """FORMATTED_VALUE, as Sheets answers by default: a number as the text its format shows
        (``4.76`` with ``#,##0.00 "EUR"`` -> ``4.76 EUR``; no format: its plain text)."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            return value
        pattern = self.formats.get(title, {}).get((r, c), {}).get("pattern", "")
        match = re.fullmatch(r'#,##0(?:\.(0+)#*)?(?: "([A-Z]{3})")?', pattern)
        if not match:
            return str(value)
        text = f"{value:,.{len(match[1] or '')}f}"
        return f"{text} {match[2]}" if match[2] else text

    def _values(self, a1: str, render: str = "FORMATTED_VALUE") -> list[list[Any]]:
        title, cells = _sheet_and_cells(a1)
        rows = self.tabs[title]
        if render != "UNFORMATTED_VALUE":
            rows = [[self._shown(title, r, c, v) for c, v in enumerate(row)] for r, row in enumerate(rows)]
        match = re.fullmatch(r"([A-Z]+):([A-Z]+)", cells or "")
        if match:
            lo, hi = _col(match[1]), _col(match[2])
            rows = [r[lo:hi + 1] for r in rows]
        out = [list(r) for r in rows]
        for r in out:
            while r and r[-1] in ("", None):
                r.pop()
        while out and not out[-1]:
            out.pop()
        return out

    def _metadata(self) -> dict[str, Any]:
        return {"spreadsheetId": self.spreadsheet_id, "properties": {"title": "Billing", "locale": "en_US",
                "timeZone": "Europe/Berlin"},
                "sheets": [{"properties": {"sheetId": self.sheet_ids[t], "title": t, "index": i, "sheetType": "GRID",
                                           "gridProperties": {"rowCount": max(1000, len(rows)), "columnCount": 26}}}
                           for i, (t, rows) in enumerate(self.tabs.items())]}

    # ---- the routes
    def routes(self, app: Flask) -> None:
        @app.post(self.token_uri_path)
        def token() -> Response:
            assertion = request.form.get("assertion", "")
            try:
                claims = jwt.decode(assertion, self.public_key, algorithms=["RS256"], audience=GOOGLE_TOKEN_AUDIENCE)
            except jwt.PyJWTError as exc:
                return Response(json.dumps({"error": "invalid_grant", "error_description": str(exc)}), status=400,
                                mimetype="application/json")
            assert "https://www.googleapis.com/auth/spreadsheets" in claims["scope"].split()
            assert request.form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer"
            with self.lock:
                self.tokens_issued += 1
                n = self.tokens_issued
            return Response(json.dumps({"access_token": f"tok-{n}", "expires_in": 3600, "token_type": "Bearer"}),
                            mimetype="application/json")

        @app.route("/v4/spreadsheets/<path:rest>", methods=["GET", "POST", "PUT"])
        def sheets(rest: str) -> Response:
            with self.lock:
                return self._handle(rest)

    def _repeat_cell(self, req: dict[str, Any]) -> dict[str, Any]:
        """``RepeatCellRequest`` with a number format (the only cell field the sync sets)."""
        grid, fields = req["range"], req["fields"]
        assert fields == "userEnteredFormat.numberFormat", fields
        number_format = req["cell"]["userEnteredFormat"]["numberFormat"]
        assert number_format["type"] in ("NUMBER", "CURRENCY") and number_format["pattern"], number_format
        title = next(t for t, i in self.sheet_ids.items() if i == grid["sheetId"])
        cells = self.formats.setdefault(title, {})
        for r in range(grid["startRowIndex"], grid["endRowIndex"]):
            for c in range(grid["startColumnIndex"], grid["endColumnIndex"]):
                cells[(r, c)] = dict(number_format)
        return {}

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers or {})

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return self._json({"error": {"code": status, "message": message, "status": "ERROR"}}, status, headers)

    def _handle(self, rest: str) -> Response:
        if not request.headers.get("Authorization", "").startswith("Bearer tok-"):
            return self._error(401, "Request is missing valid authentication credential")
        sid, _, tail = unquote(request.path)[len("/v4/spreadsheets/"):].partition("/")
        kind, a1 = "metadata", ""
        if sid.endswith(":batchUpdate"):
            sid, kind = sid[: -len(":batchUpdate")], "batchUpdate"
        elif tail == "values:batchGet":
            kind = "batchGet"
        elif tail.startswith("values/"):
            a1 = tail[len("values/"):]
            for suffix, name in ((":append", "append"), (":clear", "clear")):
                if a1.endswith(suffix):
                    a1, kind = a1[: -len(suffix)], name
                    break
            else:
                kind = "update" if request.method == "PUT" else "get"
        if sid != self.spreadsheet_id:
            return self._error(404, "Requested entity was not found.")
        body = request.get_json(silent=True)
        params = {k: v for k, v in request.args.items()}
        self.log.append({"kind": kind, "method": request.method, "range": a1, "params": params, "body": body})
        injected = self.injected.get(kind, [])
        if injected:
            status, apply, headers = injected.pop(0)
            if apply:
                self._apply(kind, a1, body, params)
            return self._error(status, "injected failure", headers)
        if kind == "append":
            problems = append_problems(body, params)
            if problems:
                self.invalid.append(problems)
                return self._error(400, "; ".join(problems))
        return self._apply(kind, a1, body, params)

    def _apply(self, kind: str, a1: str, body: Any, params: dict[str, str]) -> Response:
        if kind == "metadata":
            return self._json(self._metadata())
        if kind == "batchUpdate":
            replies: list[dict[str, Any]] = []
            for req in body["requests"]:
                if "repeatCell" in req:
                    replies.append(self._repeat_cell(req["repeatCell"]))
                    continue
                props = req["addSheet"]["properties"]
                self.tabs[props["title"]] = []
                self.sheet_ids[props["title"]] = len(self.sheet_ids) + 100
                replies.append({"addSheet": {"properties": {**props, "sheetId": self.sheet_ids[props["title"]],
                                                            "index": len(self.tabs) - 1}}})
            return self._json({"spreadsheetId": self.spreadsheet_id, "replies": replies})
        if kind == "batchGet":
            ranges = request.args.getlist("ranges")
            render = request.args.get("valueRenderOption", "FORMATTED_VALUE")
            return self._json({"spreadsheetId": self.spreadsheet_id, "valueRanges": [
                {"range": r, "majorDimension": "ROWS", **({"values": v} if (v := self._values(r, render)) else {})}
                for r in ranges]})
        if kind == "get":
            values = self._values(a1)
            return self._json({"range": a1, "majorDimension": "ROWS", **({"values": values} if values else {})})
        title, _ = _sheet_and_cells(a1)
        if kind == "append":
            rows = self.tabs[title]
            while rows and not any(c not in ("", None) for c in rows[-1]):
                rows.pop()
            rows.extend([list(r) for r in body["values"]])
            return self._json({"spreadsheetId": self.spreadsheet_id, "updates": {"updatedRows": len(body["values"])}})
        if kind == "clear":
            self.tabs[title] = []
            return self._json({"spreadsheetId": self.spreadsheet_id, "clearedRange": a1})
        if kind == "update":
            rows = self.tabs[title]
            for i, row in enumerate(body["values"]):
                while len(rows) <= i:
                    rows.append([])
                rows[i] = list(row)
            return self._json({"spreadsheetId": self.spreadsheet_id, "updatedRows": len(body["values"])})
        return self._error(400, f"unsupported {kind}")


@dataclass
class Google:
    """The running double, its URL and a service account whose token_uri points at it."""

    fake: FakeSheets
    url: str
    info: dict[str, Any]
