"""adapter tables: the dedupe and token stores of the Jira, Slack and SAP Concur adapters and the OAuth
refresh-token store, now on the shared metadata.

Before this revision each adapter created its table on first use. A database where that already happened
keeps its table: this upgrade creates only the missing ones (and a downgrade drops only what exists), so
it is safe on both kinds of database.

Revision ID: 0004_adapter_tables
Revises: 0003_open_draft_unique
Create Date: 2026-12-02 00:22:25.753209
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_adapter_tables'
down_revision = '0003_open_draft_unique'
branch_labels = None
depends_on = None


def _exists(name: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if not _exists('concur_quick_expenses'):
        op.create_table('concur_quick_expenses',
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('session_id', sa.String(length=64), nullable=False),
        sa.Column('uri', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'session_id', name=op.f('pk_concur_quick_expenses'))
        )
    if not _exists('platform_jira_anomaly_tickets'):
        op.create_table('platform_jira_anomaly_tickets',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('project_key', sa.String(length=16), nullable=False),
        sa.Column('fingerprint', sa.String(length=200), nullable=False),
        sa.Column('issue_key', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_jira_anomaly_tickets')),
        sa.UniqueConstraint('tenant_id', 'project_key', 'fingerprint', name='uq_jira_anomaly_ticket')
        )
    if not _exists('platform_oauth_refresh_tokens'):
        op.create_table('platform_oauth_refresh_tokens',
        sa.Column('consent', sa.String(length=64), nullable=False),
        sa.Column('ciphertext', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('consent', name=op.f('pk_platform_oauth_refresh_tokens'))
        )
    if not _exists('platform_slack_digest_items'):
        op.create_table('platform_slack_digest_items',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('target', sa.String(length=200), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('event_id', sa.String(length=128), nullable=False),
        sa.Column('item', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_slack_digest_items')),
        sa.UniqueConstraint('tenant_id', 'target', 'event_id', name='uq_slack_digest_item_event')
        )
    if not _exists('platform_slack_digests'):
        op.create_table('platform_slack_digests',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('target', sa.String(length=200), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ts', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_slack_digests')),
        sa.UniqueConstraint('tenant_id', 'target', 'day', name='uq_slack_digest_day')
        )


def downgrade() -> None:
    if _exists('platform_slack_digests'):
        op.drop_table('platform_slack_digests')
    if _exists('platform_slack_digest_items'):
        op.drop_table('platform_slack_digest_items')
    if _exists('platform_oauth_refresh_tokens'):
        op.drop_table('platform_oauth_refresh_tokens')
    if _exists('platform_jira_anomaly_tickets'):
        op.drop_table('platform_jira_anomaly_tickets')
    if _exists('concur_quick_expenses'):
        op.drop_table('concur_quick_expenses')
