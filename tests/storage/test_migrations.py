"""``alembic upgrade head`` gives exactly the tables the code declares (an ``alembic check``-style diff)."""

from __future__ import annotations

from sqlalchemy import inspect

from connector.cli import main
from connector.storage import migrate
from connector.storage.db import make_engine
from connector.storage.migrations_support import all_metadata


def test_upgrade_head_then_no_diff(db_url, capsys):
    assert main(["db", "upgrade", "--url", db_url]) == 0
    differences = migrate.diff(db_url)
    assert differences == [], (
        "the table modules and the migrations differ: run `evbill db revision -m '...'` against a database at "
        f"head and commit the new file under connector/storage/migrations/versions: {differences}")
    assert main(["db", "check", "--url", db_url]) == 0
    assert "no differences" in capsys.readouterr().out
    engine = make_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(all_metadata().tables) <= tables
    assert {"tenants", "api_keys", "tariffs", "tariff_versions", "customers", "sessions", "session_events",
            "idempotency_keys"} <= tables


def test_unique_event_per_tenant(db_url):
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    uniques = inspect(engine).get_unique_constraints("session_events")
    engine.dispose()
    assert any(sorted(u["column_names"]) == ["event_id", "tenant_id"] for u in uniques)
