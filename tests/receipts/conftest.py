"""The billing tests' API app (temp SQLite, PostgreSQL where marked): PDFs are rendered from real invoices."""

from tests.billing.invoicing.conftest import app, client, db_url

__all__ = ["app", "client", "db_url"]
