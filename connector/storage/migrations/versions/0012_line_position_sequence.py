"""invoice line position sequence: session ends append to a draft without its row lock.

A session's lines took the next position as the highest position of the draft plus one, read under the
draft's row lock held until commit, so every session end of one customer waited for the one before it. On
PostgreSQL the positions now come from ``invoice_line_position_seq`` (``nextval * 1024 + i`` for a session's
lines, hence a BIGINT column), started past every position already stored so new lines sort after them.

With it, ``ix_sessions_tenant_station`` becomes (tenant, station, start, session id): the duplicate-session check
reads the first few sessions at one station and start from the index, however many there are (it serves every
query the old index did: same leading columns).

Revision ID: 0012_line_position_sequence
Revises: 0011_invoice_line_vat_rounding
Create Date: 2026-12-02 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_line_position_sequence'
down_revision = '0011_invoice_line_vat_rounding'
branch_labels = None
depends_on = None

BLOCK = 1024


def upgrade() -> None:
    op.create_index('ix_sessions_tenant_station_start', 'sessions', ['tenant_id', 'station_id', 'start_at', 'session_id'],
                    unique=False)
    op.drop_index('ix_sessions_tenant_station', table_name='sessions')
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.alter_column("position", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE IF NOT EXISTS invoice_line_position_seq")
        op.execute(f"SELECT setval('invoice_line_position_seq', "
                   f"(SELECT COALESCE(MAX(position), 0) FROM invoice_lines) / {BLOCK} + 1)")


def downgrade() -> None:
    op.create_index('ix_sessions_tenant_station', 'sessions', ['tenant_id', 'station_id'], unique=False)
    op.drop_index('ix_sessions_tenant_station_start', table_name='sessions')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS invoice_line_position_seq")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.alter_column("position", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False)
