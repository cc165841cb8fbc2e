"""Dry-run mode: every request is written as one JSON line to a file for IT review, nothing is sent.

Secrets are masked before writing (auth headers, ``auth=`` tuples, body keys such as ``secret`` or
``api_key``, token-like URL path segments), so the file can be attached to a change request.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from connector.platforms.sender import safe_url

MASK = "***"
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "apikey"}
SECRET_WORDS = ("secret", "token", "password", "api_key", "apikey", "private_key", "signature")


def _secret_name(name: str) -> bool:
    low = name.lower()
    return low in SECRET_HEADERS or any(word in low for word in SECRET_WORDS)


def mask(value: Any) -> Any:
    """A copy with secret-named keys masked, recursively."""
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and _secret_name(k) else mask(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value


def _body(kwargs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "json" in kwargs:
        out["json"] = mask(kwargs["json"])
    data = kwargs.get("data")
    if isinstance(data, (dict, list)):
        out["data"] = mask(data)
    elif isinstance(data, (bytes, str)):
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        try:
            out["json"] = mask(json.loads(text))
        except ValueError:
            out["data"] = text
    if kwargs.get("params"):
        out["params"] = mask(dict(kwargs["params"]))
    return out


class DryRunSender:
    """Same ``send`` as ``HttpSender``; appends the request to ``path`` and answers a synthetic 200."""

    def __init__(self, path: str | Path, target: str | None = None,
                 response_body: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.target = target
        self.response_body = response_body if response_body is not None else {"dry_run": True}
        self._lock = threading.Lock()

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        request_id = f"dry_{uuid.uuid4().hex[:16]}"
        headers = {k: (MASK if _secret_name(k) and k.lower() != "idempotency-key" else v)
                   for k, v in (kwargs.get("headers") or {}).items()}
        record = {"at": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "request_id": request_id,
                  "target": self.target, "method": method.upper(), "url": safe_url(url),
                  "query": mask(dict(parse_qsl(urlsplit(url).query))) or None, "headers": headers,
                  "auth": MASK if kwargs.get("auth") else None, **_body(kwargs)}
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        resp = requests.Response()
        resp.status_code = 200
        resp.url = url
        resp.headers["Content-Type"] = "application/json"
        resp.headers["X-Dry-Run"] = "true"
        resp._content = json.dumps(self.response_body).encode()  # noqa: SLF001 - building a synthetic response
        return resp
