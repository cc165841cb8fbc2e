"""Fixtures for the platform tests.

The database fixtures are the events tests' (a fresh database on SQLite and PostgreSQL). The vendor doubles
run on 127.0.0.1: ``vendors`` serves Zoho Books, FreshBooks, NetSuite and SAP, ``messaging`` SendGrid, Slack,
Jira, Salesforce and Zoho Analytics, ``google`` the Sheets API (with a service account pointing at it);
the single-vendor doubles are started by their test modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.events.conftest import db, db_url, engine, pg_url  # noqa: F401 - pytest fixtures
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.google_sheets import SPREADSHEET_ID, FakeSheets, Google, new_key, service_account
from tests.platforms.fakes.messaging_and_crm import FakeVendors


@pytest.fixture
def vendors() -> Iterator[FinanceVendors]:
    fake = FinanceVendors().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def signing_key() -> Any:
    return new_key()


@pytest.fixture
def google(signing_key: Any) -> Iterator[Google]:
    """The Sheets API double + token endpoint on 127.0.0.1 and a service account whose token_uri points there."""
    with FakeSheets(SPREADSHEET_ID, signing_key.public_key()) as fake:
        yield Google(fake, fake.url, service_account(signing_key, f"{fake.url}/token"))


@pytest.fixture
def messaging() -> Iterator[FakeVendors]:
    """The SendGrid, Slack, Jira, Salesforce and Zoho Analytics double on 127.0.0.1."""
    with FakeVendors() as fake:
        yield fake


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    """A SQLite file a restarted worker finds again (state only in the database)."""
    return f"sqlite:///{tmp_path / 'worker.db'}"
