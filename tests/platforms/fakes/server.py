"""Local vendor doubles on 127.0.0.1 (port 0) for the finance adapters.

Every request is recorded; scripted failures (429 with Retry-After, 500) are replayed before the real
answer. Each double honours the vendor's idempotency mechanism the way the vendor documents it (a repeated
key returns the first answer and creates nothing), so a retried delivery is seen to create one object.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections import deque
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server


def problem(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class Double:
    """Recording, failure-replaying HTTP server; vendors add routes in ``routes``."""

    TOKEN_PATHS: tuple[str, ...] = ("/oauth2/token",)

    def __init__(self) -> None:
        self.app = Flask(type(self).__name__)
        self.requests: list[dict[str, Any]] = []
        self.failures: dict[str, deque[tuple[int, dict[str, str]]]] = {}
        self.losses: dict[str, int] = {}
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        # token endpoint state
        self.client = ("cid", "csecret")
        self.tokens: set[str] = set()
        self.refresh_tokens: set[str] = {"rt-0"}
        self.token_requests = 0
        self.expires_in: int | None = 3600
        self.rotate = False
        self._install()
        self.routes(self.app)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> Double:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def fail(self, path_prefix: str, *statuses: int, retry_after: str | None = None) -> None:
        """The next requests under ``path_prefix`` get these statuses (429s carry ``Retry-After``)."""
        q = self.failures.setdefault(path_prefix, deque())
        for status in statuses:
            q.append((status, {"Retry-After": retry_after} if status == 429 and retry_after else {}))

    def lose(self, path_prefix: str, times: int = 1) -> None:
        """Process the next matching requests for real but answer 500 (the answer is "lost")."""
        self.losses[path_prefix] = self.losses.get(path_prefix, 0) + times

    def calls(self, path_prefix: str, method: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].startswith(path_prefix) and method in (None, r["method"])]

    def bearer_ok(self) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    def routes(self, app: Flask) -> None:  # overridden per vendor
        """Vendor routes."""

    def _install(self) -> None:
        app = self.app

        @app.before_request
        def record_and_fail() -> Response | None:
            body: Any = request.get_json(silent=True) if request.is_json else (request.form.to_dict() or None)
            with self.lock:
                self.requests.append({"method": request.method, "path": request.path,
                                      "headers": dict(request.headers), "args": request.args.to_dict(),
                                      "body": body, "raw": request.get_data(as_text=True)})
                for prefix, q in self.failures.items():
                    if request.path.startswith(prefix) and q:
                        status, headers = q.popleft()
                        return Response(json.dumps({"error": f"scripted {status}"}), status=status,
                                        headers=headers, content_type="application/json")
            return None

        @app.after_request
        def lose_answer(resp: Response) -> Response:
            for prefix, n in self.losses.items():
                if n and request.path.startswith(prefix) and resp.status_code < 300:
                    self.losses[prefix] = n - 1
                    return Response(json.dumps({"error": "lost answer"}), status=500,
                                    content_type="application/json")
            return resp

        def token() -> Response:
            form = request.form
            auth = request.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            else:
                cid, secret = form.get("client_id", ""), form.get("client_secret", "")
            if (cid, secret) != self.client:
                return problem(401, {"error": "invalid_client"})
            with self.lock:
                self.token_requests += 1
                n = next(self.ids)
                answer: dict[str, Any] = {"access_token": f"at-{n}", "token_type": "Bearer"}
                if self.expires_in is not None:
                    answer["expires_in"] = self.expires_in
                if form.get("grant_type") == "refresh_token":
                    if form.get("refresh_token") not in self.refresh_tokens:
                        return problem(400, {"error": "invalid_grant"})
                    if self.rotate:
                        self.refresh_tokens = {f"rt-{n}"}
                    answer["refresh_token"] = f"rt-{n}" if self.rotate else form["refresh_token"]
                elif form.get("grant_type") != "client_credentials":
                    return problem(400, {"error": "unsupported_grant_type"})
                if form.get("scope"):
                    answer["scope"] = form["scope"]
                self.tokens.add(answer["access_token"])
            return jsonify(answer)

        for path in self.TOKEN_PATHS:
            app.add_url_rule(path, f"token{path}", token, methods=["POST"])

        @app.get("/protected")
        def protected() -> Response:
            if not self.bearer_ok():
                return problem(401, {"error": "invalid_token"})
            return jsonify(ok=True)
