"""first hour: kb_drafts (pending /kb add titles without Redis), alert_batches.last_alert_at (storms that extend)

Revision ID: i16_first_hour
Revises: i10_session_secret
Create Date: 2026-12-04

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'i16_first_hour'
down_revision = 'i10_session_secret'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('kb_drafts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=False),
    sa.Column('open_id', sa.String(length=128), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_drafts')),
    sa.UniqueConstraint('chat_id', 'open_id', name=op.f('uq_kb_drafts_chat_id_open_id'))
    )
    with op.batch_alter_table('alert_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_alert_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('alert_batches', schema=None) as batch_op:
        batch_op.drop_column('last_alert_at')
    op.drop_table('kb_drafts')
