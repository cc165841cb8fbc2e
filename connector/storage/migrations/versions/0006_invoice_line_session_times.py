"""invoice line session times: each line keeps its session's start, end and time zone.

Invoices and their PDFs show when and where a session was charged, not only its id. Existing lines
keep NULL (their sessions' times are still in the sessions table).

Revision ID: 0006_invoice_line_session_times
Revises: 0005_ocpp_stations
Create Date: 2026-12-02 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_invoice_line_session_times'
down_revision = '0005_ocpp_stations'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoice_lines') as batch:
        batch.add_column(sa.Column('session_start', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('session_end', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('session_time_zone', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invoice_lines') as batch:
        batch.drop_column('session_time_zone')
        batch.drop_column('session_end')
        batch.drop_column('session_start')
