"""``alembic upgrade head`` gives exactly the tables the code declares (an ``alembic check``-style diff)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect

from connector.cli import main
from connector.storage import migrate
from connector.storage.db import make_engine
from connector.storage.tables import all_metadata


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


def test_adapter_tables_created_on_first_use_before_0004_are_kept(db_url):
    """A database where the Jira adapter made its dedupe table itself (before 0004) upgrades cleanly and
    keeps its rows; the other adapter tables are created by the migration."""
    from sqlalchemy import (
        Column,
        DateTime,
        Integer,
        MetaData,
        String,
        Table,
        UniqueConstraint,
        insert,
        select,
    )

    migrate.upgrade(db_url, "0003_open_draft_unique")
    old = MetaData()  # the table as the adapter created it before 0004 (its own MetaData, no naming rules)
    tickets = Table("platform_jira_anomaly_tickets", old,
                    Column("id", Integer, primary_key=True, autoincrement=True),
                    Column("tenant_id", String(64), nullable=False), Column("project_key", String(16), nullable=False),
                    Column("fingerprint", String(200), nullable=False), Column("issue_key", String(64), nullable=False),
                    Column("created_at", DateTime(timezone=True), nullable=False),
                    UniqueConstraint("tenant_id", "project_key", "fingerprint", name="uq_jira_anomaly_ticket"))
    engine = make_engine(db_url)
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(tickets).values(tenant_id="t1", project_key="FIN", fingerprint="dup:S-1",
                                            issue_key="FIN-7", created_at=datetime(2026, 1, 13, tzinfo=UTC)))
    migrate.upgrade(db_url)
    names = set(inspect(engine).get_table_names())
    assert {"platform_slack_digests", "platform_slack_digest_items", "concur_quick_expenses",
            "platform_oauth_refresh_tokens"} <= names
    with engine.connect() as conn:
        assert conn.execute(select(tickets.c.issue_key)).scalars().all() == ["FIN-7"]
    engine.dispose()
    assert migrate.diff(db_url) == []
