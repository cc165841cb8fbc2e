"""Storage: SQLAlchemy 2 (SQLite embedded default, PostgreSQL via DATABASE_URL)."""
