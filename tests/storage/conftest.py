"""Storage tests: migrations on SQLite and a throw-away PostgreSQL database."""

from __future__ import annotations

import pytest

from tests.api.pg import fresh_database, pg_available


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL); run scripts/setup_system.sh")
    with fresh_database() as url:
        yield url
