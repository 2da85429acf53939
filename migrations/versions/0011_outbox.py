"""exactly once: outbound_messages (the outbox), command_receipts, executions.request_key

Revision ID: i9_outbox
Revises: i12_gateway
Create Date: 2026-12-04

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'i9_outbox'
down_revision = 'i12_gateway'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('outbound_messages',
    sa.Column('id', BigId, nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('receive_id_type', sa.String(length=16), nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=True),
    sa.Column('event_id', BigId, nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('card', sa.JSON(), nullable=True),
    sa.Column('on_sent', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_message_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['inbound_events.id'], name=op.f('fk_outbound_messages_event_id_inbound_events'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_messages')),
    sa.UniqueConstraint('key', name=op.f('uq_outbound_messages_key'))
    )
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_messages_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_messages_status'), ['status'], unique=False)

    op.create_table('command_receipts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('command', sa.String(length=64), nullable=False),
    sa.Column('open_id', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_command_receipts')),
    sa.UniqueConstraint('key', name=op.f('uq_command_receipts_key'))
    )
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_key', sa.String(length=160), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_executions_request_key'), ['request_key'])


def downgrade():
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_executions_request_key'), type_='unique')
        batch_op.drop_column('request_key')
    op.drop_table('command_receipts')
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_messages_status'))
        batch_op.drop_index(batch_op.f('ix_outbound_messages_event_id'))
    op.drop_table('outbound_messages')
