"""ocpi partners: roaming partners (tokens hashed / encrypted) and what was pushed to each.

Revision ID: 0008_ocpi_partners
Revises: 0007_payments
Create Date: 2026-12-02 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_ocpi_partners'
down_revision = '0007_payments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ocpi_partners',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=True),
    sa.Column('party_id', sa.String(length=3), nullable=True),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('versions_url', sa.String(length=255), nullable=True),
    sa.Column('endpoints', sa.JSON(), nullable=False),
    sa.Column('inbound_token_hash', sa.String(length=64), nullable=True),
    sa.Column('outbound_token', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ocpi_partners')),
    sa.UniqueConstraint('inbound_token_hash', name=op.f('uq_ocpi_partners_inbound_token_hash'))
    )
    op.create_index(op.f('ix_ocpi_partners_tenant_id'), 'ocpi_partners', ['tenant_id'], unique=False)
    op.create_table('ocpi_pushes',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('object_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'partner_id', 'object_key', name=op.f('pk_ocpi_pushes'))
    )


def downgrade() -> None:
    op.drop_table('ocpi_pushes')
    op.drop_index(op.f('ix_ocpi_partners_tenant_id'), table_name='ocpi_partners')
    op.drop_table('ocpi_partners')
