"""invoice line VAT rounding: what the invoice's VAT policy moved the line's tax away from its rating.

With ``EVBILL_INVOICE_VAT=per_rate`` a finalized invoice levies each rate once on its net at that rate and
spreads the amount over its lines; the column keeps each line's change (minor units) so reconciliation can
still compare a session's rated amount with what was billed for it.

Revision ID: 0011_invoice_line_vat_rounding
Revises: 0010_session_recon_facts
Create Date: 2026-12-02 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_invoice_line_vat_rounding'
down_revision = '0010_session_recon_facts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoice_lines') as batch:
        batch.add_column(sa.Column('vat_rounding', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('invoice_lines') as batch:
        batch.drop_column('vat_rounding')
