"""The sender tests hand to adapters: the real ``connector.platforms.sender.HttpSender``, kept on 127.0.0.1.

One attempt per call, classified as in production (429/5xx/connection -> ``RetryableError`` with
Retry-After, other non-2xx -> ``PermanentError``); retries are the worker's job (``worker_model.retrying``
or the real ``connector.events.worker``). It refuses any URL off 127.0.0.1 and counts attempts.
"""

from __future__ import annotations

from typing import Any

import requests

from connector.platforms.sender import HttpSender


class OneShotHttp(HttpSender):
    def __init__(self) -> None:
        super().__init__(read_timeout=10)
        self.attempts = 0

    def send(self, method: str, url: str, **kw: Any) -> requests.Response:
        assert url.startswith("http://127.0.0.1:"), f"test tried to leave 127.0.0.1: {url}"
        self.attempts += 1
        return super().send(method, url, **kw)
