"""reconciliation covering indexes: sessions (kind, start, the summed columns), lines (session, invoice, amounts).

The set-based stored reconciliation reads a month of sessions and their invoice lines. With these indexes
it reads only the indexes (no wide document rows): sessions by (tenant, kind, start) with every column it
sums, lines by (tenant, session) with their invoice and amounts. The line index replaces
``ix_invoice_lines_tenant_session`` (same leading columns, so it serves every query the old one did).

Revision ID: 0013_recon_covering_indexes
Revises: 0012_line_position_sequence
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0013_recon_covering_indexes'
down_revision = '0012_line_position_sequence'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_sessions_recon', 'sessions', ['tenant_id', 'recon_kind', 'start_at', 'time_zone',
                                                       'station_id', 'tariff_id', 'rated_class', 'rated_currency',
                                                       'due_minor', 'rated_energy', 'energy_key', 'session_id'])
    op.create_index('ix_invoice_lines_tenant_session_amounts', 'invoice_lines',
                    ['tenant_id', 'session_id', 'invoice_id', 'gross', 'vat_rounding'])
    op.drop_index('ix_invoice_lines_tenant_session', table_name='invoice_lines')


def downgrade() -> None:
    op.create_index('ix_invoice_lines_tenant_session', 'invoice_lines', ['tenant_id', 'session_id'])
    op.drop_index('ix_invoice_lines_tenant_session_amounts', table_name='invoice_lines')
    op.drop_index('ix_sessions_recon', table_name='sessions')
