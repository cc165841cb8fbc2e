"""The base of every vendor double: a Flask app served on 127.0.0.1 (port 0) in a thread.

Adapters reach a double through the real ``connector.platforms.sender.HttpSender`` (``fakes/http.py``), so
retries, classification and idempotency are exercised over real HTTP. Every request is recorded; scripted
failures (429 with Retry-After, 500) are answered before the vendor route runs, and a "lost answer" lets
the route do its work and then answers 500, the case a retry must not turn into a second object.
A vendor double subclasses ``LocalServer`` and adds its routes in ``routes``; ``OAuthServer`` adds an
OAuth 2 token endpoint for vendors that need one.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from flask import Flask, Response, g, jsonify, request
from werkzeug.serving import make_server

Match = tuple[str, str | None]  # (path prefix, method or None for any)


def problem(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


def reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (``problem`` with the payload first, for routes that mostly succeed)."""
    return problem(status, payload, headers)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Yield ``http://127.0.0.1:<port>`` while any WSGI app (the API itself, for tests that need a real
    socket: Node, gspread, low-code flows) answers on a threaded server."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


class LocalServer:
    """Recording, failure-replaying HTTP server on 127.0.0.1; vendors add routes in ``routes``."""

    LOST_ANSWER: dict[str, str] = {"error": "lost answer"}

    def __init__(self) -> None:
        self.app = Flask(type(self).__name__)
        self.requests: list[dict[str, Any]] = []
        self.failures: dict[Match, deque[tuple[int, dict[str, str], str]]] = {}
        self.losses: dict[Match, int] = {}
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self._install()
        self.routes(self.app)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def fail(self, path_prefix: str, *statuses: int, retry_after: str | None = None, method: str | None = None,
             body: str = "") -> None:
        """Answer the next requests under ``path_prefix`` (optionally one method) with these statuses;
        429s carry ``Retry-After``."""
        q = self.failures.setdefault((path_prefix, method), deque())
        for status in statuses:
            headers = {"Retry-After": retry_after} if retry_after is not None and status == 429 else {}
            q.append((status, headers, body or json.dumps({"error": f"scripted {status}"})))

    def lose(self, path_prefix: str, times: int = 1, method: str | None = None) -> None:
        """Process the next matching requests for real but answer 500 (the answer is "lost")."""
        key = (path_prefix, method)
        self.losses[key] = self.losses.get(key, 0) + times

    def calls(self, path_prefix: str, method: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].startswith(path_prefix) and method in (None, r["method"])]

    def routes(self, app: Flask) -> None:
        """Vendor routes (overridden per vendor)."""

    def request_body(self) -> Any:
        """The recorded body: parsed JSON, the form as a dict, or None."""
        if request.is_json:
            return request.get_json(silent=True)
        return request.form.to_dict() or None

    def _install(self) -> None:
        app = self.app

        @app.before_request
        def record_and_fail() -> Response | None:
            body = self.request_body()
            entry = {"method": request.method, "path": request.path, "url": request.url,
                     "headers": dict(request.headers), "args": request.args.to_dict(), "body": body,
                     "raw": request.get_data(as_text=True)}
            g.recorded = entry  # the route can find its own request in ``requests``
            with self.lock:
                self.requests.append(entry)
                for (prefix, method), q in self.failures.items():
                    if request.path.startswith(prefix) and method in (None, request.method) and q:
                        status, headers, text = q.popleft()
                        return Response(text, status=status, headers=headers, content_type="application/json")
            return None

        @app.after_request
        def lose_answer(resp: Response) -> Response:
            with self.lock:
                for (prefix, method), n in self.losses.items():
                    if (n and request.path.startswith(prefix) and method in (None, request.method)
                            and resp.status_code < 300):
                        self.losses[(prefix, method)] = n - 1
                        return problem(500, self.LOST_ANSWER)
            return resp


class OAuthServer(LocalServer):
    """A ``LocalServer`` with an OAuth 2 token endpoint (client credentials, refresh tokens, rotation) at
    ``TOKEN_PATHS`` and a Bearer-protected ``/protected``."""

    TOKEN_PATHS: tuple[str, ...] = ("/oauth2/token",)

    def __init__(self) -> None:
        self.client = ("cid", "csecret")
        self.tokens: set[str] = set()
        self.refresh_tokens: set[str] = {"rt-0"}
        self.token_requests = 0
        self.expires_in: int | None = 3600
        self.rotate = False
        super().__init__()

    def bearer_ok(self) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    def _install(self) -> None:
        super()._install()
        app = self.app

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
