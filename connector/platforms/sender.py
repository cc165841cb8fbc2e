"""The one HTTP sender every adapter and webhook delivery uses: one attempt, classified.

Why one attempt: retries belong to the outbox worker, which persists each attempt, its error and the next
due time on the delivery row, so a restart neither loses nor repeats the backoff. The sender's job is to
turn every outcome into success, ``RetryableError`` (429, 5xx, connection/timeout; with the vendor's
``Retry-After`` in seconds) or ``PermanentError`` (other non-2xx; with the vendor's message), and to log
one structured line per request with a request id and no secrets.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from connector.platforms.deadline import DeadlineAdapter, deadline
from connector.platforms.errors import PermanentError, RetryableError

LOG = logging.getLogger("connector.platforms.sender")
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_DEADLINE = 30.0  # seconds for the whole request: connect, send, headers and body
MAX_ERROR_TEXT = 500
# Response headers vendors use for their own request id (logged so support tickets can quote it).
VENDOR_REQUEST_ID_HEADERS = ("Request-Id", "X-Request-Id", "X-Request-ID", "X-Amzn-RequestId",
                             "Paypal-Debug-Id", "Xero-Correlation-Id", "intuit_tid", "X-Message-Id",
                             "X-Slack-Req-Id", "Atl-Traceid")
_SECRETISH = re.compile(r"^(?=.*[A-Za-z])(?=.*[0-9])[A-Za-z0-9_\-]{20,}$")


def safe_url(url: str) -> str:
    """scheme://host/path without query and with token-like path segments masked (Slack webhook URLs)."""
    parts = urlsplit(url)
    path = "/".join("***" if _SECRETISH.match(seg) else seg for seg in parts.path.split("/"))
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{path}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def vendor_message(resp: requests.Response) -> str:
    text = (resp.text or "").strip().replace("\n", " ")
    return text[:MAX_ERROR_TEXT] + ("…" if len(text) > MAX_ERROR_TEXT else "")


def classify(resp: requests.Response, label: str) -> requests.Response:
    """Return a 2xx response; raise the matching error for anything else."""
    status = resp.status_code
    if 200 <= status < 300:
        return resp
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        raise RetryableError(f"HTTP {status} from {label}: {vendor_message(resp)}", retry_after=retry_after,
                             status_code=status)
    raise PermanentError(f"HTTP {status} from {label}: {vendor_message(resp)}", status_code=status)


class DeadlineExceeded(requests.Timeout):
    """The whole request took longer than the sender's deadline (however the bytes trickled in)."""


class Sender(Protocol):
    """What adapters and webhooks send through: ``HttpSender``, ``DryRunSender`` or a test double."""

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response: ...


class HttpSender:
    """``send(method, url, **requests_kwargs) -> Response`` over one ``requests.Session`` (connection reuse).

    ``read_timeout`` bounds each socket read; ``deadline`` bounds the whole request (a receiver trickling
    bytes is cut off there and the attempt is retryable)."""

    def __init__(self, session: requests.Session | None = None, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 read_timeout: float = DEFAULT_READ_TIMEOUT, target: str | None = None,
                 logger: logging.Logger | None = None, deadline: float = DEFAULT_DEADLINE) -> None:
        self.session = session or requests.Session()
        for prefix in ("http://", "https://"):  # a caller's own adapter (retries, certificates) is kept
            if type(self.session.adapters.get(prefix)) is HTTPAdapter:
                self.session.mount(prefix, DeadlineAdapter())
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = deadline
        self.target = target
        self.log = logger or LOG
        self.requests_sent = 0

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)  # a redirect turns a POST into a GET: treat as an error
        request_id = f"req_{uuid.uuid4().hex[:16]}"
        label = safe_url(url)
        started = time.monotonic()
        fields: dict[str, Any] = {"request_id": request_id, "target": self.target, "method": method.upper(),
                                  "url": label}
        self.requests_sent += 1
        try:
            with deadline(self.deadline) as watch:
                try:
                    resp = self.session.request(method, url, **kwargs)
                except requests.RequestException:
                    if watch.expired:
                        raise DeadlineExceeded(f"no complete answer within {self.deadline:g} s") from None
                    raise
        except DeadlineExceeded as exc:
            fields.update(outcome="retryable", error="DeadlineExceeded", ms=round((time.monotonic() - started) * 1000))
            self.log.warning("http request failed", extra={"evbill": fields})
            raise RetryableError(f"{exc} from {label}") from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            fields.update(outcome="retryable", error=type(exc).__name__,
                          ms=round((time.monotonic() - started) * 1000))
            self.log.warning("http request failed", extra={"evbill": fields})
            raise RetryableError(f"{type(exc).__name__} talking to {label}") from exc
        except requests.RequestException as exc:  # invalid URL, too many redirects...: retrying cannot help
            fields.update(outcome="permanent", error=type(exc).__name__)
            self.log.warning("http request failed", extra={"evbill": fields})
            raise PermanentError(f"{type(exc).__name__} for {label}: {exc}") from exc
        fields.update(status=resp.status_code, ms=round((time.monotonic() - started) * 1000),
                      vendor_request_id=next((resp.headers[h] for h in VENDOR_REQUEST_ID_HEADERS
                                              if h in resp.headers), None))
        try:
            classify(resp, label)
        except RetryableError:
            self.log.warning("http request retryable", extra={"evbill": {**fields, "outcome": "retryable"}})
            raise
        except PermanentError:
            self.log.warning("http request rejected", extra={"evbill": {**fields, "outcome": "permanent"}})
            raise
        self.log.info("http request sent", extra={"evbill": {**fields, "outcome": "ok"}})
        return resp

