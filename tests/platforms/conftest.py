"""Fixtures for the platform tests.

The database fixtures are the events tests' (a fresh database on SQLite and PostgreSQL). ``vendors`` is the
Zoho Books, FreshBooks, NetSuite and SAP double on 127.0.0.1; modules that drive another double define
their own ``vendors``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.events.conftest import db, db_url, engine, pg_url  # noqa: F401 - pytest fixtures
from tests.platforms.fakes.finance_vendors import FinanceVendors


@pytest.fixture
def vendors() -> Iterator[FinanceVendors]:
    fake = FinanceVendors().start()
    yield fake
    fake.stop()
