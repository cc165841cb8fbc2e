"""events by (tenant, type, created_at): the event list filtered by type.

``GET /v1/events?type=...`` (what the Zapier triggers for interim costs and re-ratings sample) reads the
newest events of one type. With only (tenant, created_at) it walks every newer event of the tenant to find
them: one ``session.rerated`` among a million events took 170-280 ms on PostgreSQL and SQLite, with this index
about 1 ms (``bench/events_list.py``). (tenant, created_at) stays: the unfiltered list and retention read by it.

Revision ID: 0014_events_tenant_type_index
Revises: 0013_recon_covering_indexes
Create Date: 2026-12-02 20:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0014_events_tenant_type_index'
down_revision = '0013_recon_covering_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_events_tenant_type_created', 'events', ['tenant_id', 'type', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_events_tenant_type_created', table_name='events')
