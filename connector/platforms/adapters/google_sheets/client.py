"""A gspread client with OUR bounded retry (gspread 6.2.1's ``BackOffHTTPClient`` retries without bound).

Why retry here and not only in the outbox worker: a sync makes several requests, and a short 429 burst
(Sheets allows 60 requests a minute per user) should not restart the whole sync. Bounded: at most
``max_attempts`` per request, exponential backoff with jitter, ``Retry-After`` honoured up to
``max_delay``; a longer wait or the last failure is raised for the worker to schedule. ``values.append``
is never retried here: it is not idempotent, so the sync re-reads the key column and appends again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, cast

import requests
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from connector.platforms.sender import parse_retry_after

GOOGLE_SHEETS = "https://sheets.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class TransientError(Exception):
    """A connection failure or timeout after the last attempt (no HTTP response to build an APIError)."""


def retry_after_seconds(response: requests.Response) -> float | None:
    """The response's ``Retry-After`` (seconds or HTTP-date), parsed as the shared sender does."""
    return parse_retry_after(response.headers.get("Retry-After"))


class BoundedRetryClient(HTTPClient):
    """gspread's HTTP client with a bounded retry, an optional API base (tests), and a request count."""

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    api_base: str | None = None
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, auth: Any, session: requests.Session | None = None) -> None:
        super().__init__(auth, session)
        self.timeout = (5.0, 30.0)
        self.calls = 0
        self.waits: list[float] = []

    def _url(self, endpoint: str) -> str:
        if self.api_base and endpoint.startswith(GOOGLE_SHEETS):
            return self.api_base.rstrip("/") + endpoint[len(GOOGLE_SHEETS):]
        return endpoint

    def _delay(self, attempt: int, hint: float | None) -> float:
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)  # noqa: S311
        return max(backoff, hint or 0.0)

    def request(self, method: str, endpoint: str, params: Any = None, data: bytes | None = None,
                json: Mapping[str, Any] | None = None, files: Any = None,
                headers: MutableMapping[str, str] | None = None) -> requests.Response:
        idempotent = not (method.lower() == "post" and endpoint.split("?")[0].endswith(":append"))
        attempts = self.max_attempts if idempotent else 1
        for attempt in range(1, attempts + 1):
            self.calls += 1
            try:
                response = self.session.request(method=method, url=self._url(endpoint), json=json, params=params,
                                                data=data, files=files, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == attempts:
                    raise TransientError(f"{method.upper()} {endpoint}: {exc}") from exc
                self._wait(self._delay(attempt, None))
                continue
            if response.ok:
                return response
            if response.status_code not in RETRYABLE_STATUS or attempt == attempts:
                raise APIError(response)
            hint = retry_after_seconds(response)
            if hint is not None and hint > self.max_delay:
                raise APIError(response)  # the worker waits that long, not this process
            self._wait(self._delay(attempt, hint))
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.sleep(seconds)


def open_client(service_account_info: Mapping[str, Any], *, api_base: str | None = None,
                sleep: Callable[[float], None] | None = None, max_attempts: int | None = None) -> Any:
    """A ``gspread.Client`` for a service account (``token_uri`` from the key file; tests point it locally)."""
    import gspread
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(dict(service_account_info),
                                                                        scopes=list(SCOPES))
    client = gspread.Client(auth=credentials, http_client=BoundedRetryClient)
    http = cast(BoundedRetryClient, client.http_client)
    http.api_base = api_base
    if sleep is not None:
        http.sleep = sleep
    if max_attempts is not None:
        http.max_attempts = max_attempts
    return client
