"""Fixtures for the Zoho Books, FreshBooks, NetSuite and SAP adapters: real billed events (money from
``connector.rating.rate``, in the Invoice JSON's decimal strings as billing emits them), a local vendor
double on 127.0.0.1, the shared one-attempt sender and a worker-like retry loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.platforms2.conftest import billed_event as major_billed_event
from tests.platforms2.harness import OneShotHttp

from .fakes import FinanceVendors


def billed_event(*args: Any, **kw: Any) -> dict[str, Any]:
    """``session.billed`` from the real ``rate(...)`` (tests/platforms2/conftest.py): Invoice JSON money as
    decimal strings with the currency's digits, as billing emits it since fc7123a ("12.05" EUR, "1372" JPY)."""
    return major_billed_event(*args, **kw)


def incentive_event(customer_class: str = "government", sid: str = "S-INC") -> dict[str, Any]:
    """A billed session with a state incentive of 0.05/kWh (23.4 kWh -> 1.17 EUR paid by the authority):
    gross 12.05, amount due 10.88; rated by ``rate(...)`` with the adjustment, as billing does."""
    import json

    from connector.models import Customer
    from connector.models.customer import Adjustment
    from connector.rating import RatingOptions, rate
    from tests.platforms2.conftest import invoice_json, session, tariff

    sess = session(sid)
    cust = Customer(id="C-1", name="City Fleet", email="fleet@city.example", customer_class=customer_class)
    rated = rate(sess, tariff(), cust, RatingOptions(adjustments=(
        Adjustment(kind="incentive_per_kwh", name="State incentive", value="0.05"),)))
    return {"id": f"evt_{sid}", "type": "session.billed", "tenant_id": "t1", "created_at": "2026-01-13T11:31:00Z",
            "data": {"session": json.loads(sess.model_dump_json()), "rating": rated.to_dict(),
                     "invoice": invoice_json(rated, sess, cust)}}


def make_http() -> Any:
    """The shared sender (one attempt per call, as the worker uses it), confined to 127.0.0.1."""
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
