"""session reconciliation facts: zone, energy key, rated energy, amount due in minor units, kind.

A stored reconciliation sums these columns with one SQL aggregate instead of reading every rating JSON in
Python. Existing rows are backfilled from their documents and ratings with the same function the ORM runs
on every write (``connector.storage.session_facts.derive``): amounts exactly, in the currency's minor units.

Revision ID: 0010_session_recon_facts
Revises: 0009_invoice_line_position_index
Create Date: 2026-12-02 14:30:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from connector.storage.session_facts import derive

revision = '0010_session_recon_facts'
down_revision = '0009_invoice_line_position_index'
branch_labels = None
depends_on = None

BATCH = 5000


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def upgrade() -> None:
    op.add_column('sessions', sa.Column('time_zone', sa.String(length=64), nullable=True))
    op.add_column('sessions', sa.Column('energy_key', sa.String(length=60), nullable=True))
    op.add_column('sessions', sa.Column('rated_energy', sa.BigInteger(), nullable=True))
    op.add_column('sessions', sa.Column('due_minor', sa.BigInteger(), nullable=True))
    op.add_column('sessions', sa.Column('rated_currency', sa.String(length=3), nullable=True))
    op.add_column('sessions', sa.Column('rated_class', sa.String(length=40), nullable=True))
    op.add_column('sessions', sa.Column('recon_kind', sa.SmallInteger(), server_default=sa.text('0'),
                                        nullable=False))
    bind = op.get_bind()
    sessions = sa.table('sessions', sa.column('tenant_id'), sa.column('session_id'), sa.column('document'),
                        sa.column('rating'), sa.column('start_at', sa.DateTime(timezone=True)),
                        sa.column('tariff_id'))
    facts = sa.table('sessions', *(sa.column(name) for name in (
        'time_zone', 'energy_key', 'rated_energy', 'due_minor', 'rated_currency', 'rated_class', 'recon_kind')))
    update = (facts.update().where(sa.column('tenant_id') == sa.bindparam('t'),
                                   sa.column('session_id') == sa.bindparam('s')))
    last: tuple[str, str] = ("", "")
    while True:  # keyset pages: the backfill holds one page of documents at a time
        rows = bind.execute(sa.select(sessions.c.tenant_id, sessions.c.session_id, sessions.c.document,
                                      sessions.c.rating, sessions.c.start_at, sessions.c.tariff_id)
                            .where(sa.tuple_(sessions.c.tenant_id, sessions.c.session_id) > sa.tuple_(*last))
                            .order_by(sessions.c.tenant_id, sessions.c.session_id).limit(BATCH)).fetchall()
        if not rows:
            break
        bind.execute(update, [dict(derive(_json(doc), _json(rating), start_at, tariff_id), t=tenant, s=sid)
                              for tenant, sid, doc, rating, start_at, tariff_id in rows])
        last = (rows[-1][0], rows[-1][1])


def downgrade() -> None:
    with op.batch_alter_table('sessions') as batch:
        for name in ('recon_kind', 'rated_class', 'rated_currency', 'due_minor', 'rated_energy', 'energy_key',
                     'time_zone'):
            batch.drop_column(name)
