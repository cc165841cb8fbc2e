"""Reconciliation/anomaly tests: a fresh SQLite file (and PostgreSQL where marked) with every table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from connector.storage.db import make_engine
from connector.storage.tables import all_metadata
from tests.billing.reconciliation.seed import seed


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'recon.db'}")
    all_metadata().create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine) -> Iterator[Session]:
    with sessionmaker(engine, expire_on_commit=False)() as session:
        yield session


@pytest.fixture
def seeded(db) -> Session:
    seed(db)
    db.commit()
    return db
