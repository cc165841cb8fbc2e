"""ingest tables: the OCPP station registry (security profile, password hash) and importer cursors.

Revision ID: 0005_ocpp_stations
Revises: 0004_adapter_tables
Create Date: 2026-12-02 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_ocpp_stations'
down_revision = '0004_adapter_tables'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ocpp_stations',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('station_id', sa.String(length=48), nullable=False),
    sa.Column('security_profile', sa.Integer(), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('session_fields', sa.JSON(), nullable=False),
    sa.Column('rotation_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'station_id', name=op.f('pk_ocpp_stations'))
    )
    op.create_table('ingest_cursors',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('cursor', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'source', name=op.f('pk_ingest_cursors'))
    )


def downgrade() -> None:
    op.drop_table('ingest_cursors')
    op.drop_table('ocpp_stations')
