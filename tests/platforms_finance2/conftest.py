"""Fixtures for the F2 finance adapters: real billed events (money from ``connector.rating.rate``),
a local vendor double on 127.0.0.1, a one-attempt sender and a worker-like retry loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.platforms2.conftest import billed_event  # noqa: F401  (the documented Invoice JSON from rate())
from tests.platforms2.harness import OneShotHttp

from .fakes import FinanceVendors

try:  # E's shared sender once it lands; one attempt, same classification as the stand-in
    from connector.platforms.sender import HttpSender as _RealSender
except ImportError:  # pragma: no cover - until connector/platforms/sender.py exists
    _RealSender = None


def make_http() -> Any:
    """The shared sender when available (one attempt per call), else the test stand-in."""
    if _RealSender is not None:
        try:
            return _RealSender()
        except TypeError:  # pragma: no cover - constructor needs arguments we do not know yet
            pass
    return OneShotHttp()


def retrying(deliver: Callable[[], dict[str, Any]], max_attempts: int = 6) -> tuple[dict[str, Any], list[Any]]:
    """What the outbox worker does: call again after each RetryableError (bounded); returns the result
    and the ``retry_after`` of each failed attempt."""
    from connector.platforms.errors import RetryableError

    seen: list[Any] = []
    for attempt in range(1, max_attempts + 1):
        try:
            return deliver(), seen
        except RetryableError as exc:
            seen.append(exc.retry_after)
            if attempt == max_attempts:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def vendors() -> Iterator[FinanceVendors]:
    fake = FinanceVendors().start()
    yield fake
    fake.stop()
