"""open draft unique: at most one collecting draft per (tenant, customer, currency)

Sessions of a customer that has no customer row (nothing to lock) could each open a draft when they completed
concurrently on PostgreSQL. A database that already holds such twins fails this upgrade with a unique
violation naming uq_invoices_open_draft: finalize (or void) all but one of the customer's drafts, then rerun.

Revision ID: 0003_open_draft_unique
Revises: 0002_billing_events_platforms
Create Date: 2026-12-01 23:34:56.636485
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003_open_draft_unique'
down_revision = '0002_billing_events_platforms'
branch_labels = None
depends_on = None

OPEN_DRAFT = "status = 'draft' AND kind = 'invoice' AND per_session = false"


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("uq_invoices_open_draft", ["tenant_id", "customer_id", "currency"], unique=True,
                              sqlite_where=sa.text(OPEN_DRAFT), postgresql_where=sa.text(OPEN_DRAFT))


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("uq_invoices_open_draft")
