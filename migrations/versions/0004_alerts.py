"""alerts: alerts, silences, storm batches, remediation runs

Revision ID: 0004_alerts
Revises: 0002_automation
Create Date: 2026-11-21

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_alerts'
down_revision = '0002_automation'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('alerts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('fingerprint', sa.String(length=80), nullable=False),
    sa.Column('open_key', sa.String(length=80), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('alertname', sa.String(length=200), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('service', sa.String(length=200), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('annotations', sa.JSON(), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=True),
    sa.Column('generator_url', sa.String(length=1000), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prev_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('notify_state', sa.String(length=16), nullable=False),
    sa.Column('notify_attempts', sa.Integer(), nullable=False),
    sa.Column('route_index', sa.Integer(), nullable=True),
    sa.Column('chat_id', sa.String(length=128), nullable=True),
    sa.Column('card_message_id', sa.String(length=128), nullable=True),
    sa.Column('batch_id', BigId, nullable=True),
    sa.Column('card_count', sa.Integer(), nullable=False),
    sa.Column('card_stale', sa.Boolean(), nullable=False),
    sa.Column('card_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acked_by', sa.String(length=128), nullable=True),
    sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('schedule', sa.String(length=64), nullable=True),
    sa.Column('escalation_step', sa.Integer(), nullable=False),
    sa.Column('next_escalation_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalation_log', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('open_key', name=op.f('uq_alerts_open_key'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_alertname'), ['alertname'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_fingerprint'), ['fingerprint'], unique=False)
        batch_op.create_index('ix_alerts_next_escalation_at', ['next_escalation_at'], unique=False)
        batch_op.create_index('ix_alerts_notify_state', ['notify_state'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_status'), ['status'], unique=False)

    op.create_table('alert_silences',
    sa.Column('id', BigId, nullable=False),
    sa.Column('matchers', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.String(length=500), nullable=True),
    sa.Column('removed_by', sa.String(length=128), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_silences'))
    )
    with op.batch_alter_table('alert_silences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_silences_ends_at'), ['ends_at'], unique=False)

    op.create_table('alert_batches',
    sa.Column('id', BigId, nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=False),
    sa.Column('bucket', sa.BigInteger(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=True),
    sa.Column('card_size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_batches')),
    sa.UniqueConstraint('chat_id', 'bucket', name='uq_alert_batches_chat_id_bucket')
    )

    op.create_table('alert_remediations',
    sa.Column('id', BigId, nullable=False),
    sa.Column('alert_id', BigId, nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('hour', sa.BigInteger(), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('runbook', sa.String(length=64), nullable=False),
    sa.Column('execution_id', BigId, nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_remediations')),
    sa.UniqueConstraint('rule', 'hour', 'slot', name='uq_alert_remediations_rule_hour_slot')
    )
    with op.batch_alter_table('alert_remediations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_remediations_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_remediations_check_at'), ['check_at'], unique=False)


def downgrade():
    with op.batch_alter_table('alert_remediations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_remediations_check_at'))
        batch_op.drop_index(batch_op.f('ix_alert_remediations_alert_id'))
    op.drop_table('alert_remediations')
    op.drop_table('alert_batches')
    with op.batch_alter_table('alert_silences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_silences_ends_at'))
    op.drop_table('alert_silences')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_status'))
        batch_op.drop_index('ix_alerts_notify_state')
        batch_op.drop_index('ix_alerts_next_escalation_at')
        batch_op.drop_index(batch_op.f('ix_alerts_fingerprint'))
        batch_op.drop_index(batch_op.f('ix_alerts_created_at'))
        batch_op.drop_index(batch_op.f('ix_alerts_batch_id'))
        batch_op.drop_index(batch_op.f('ix_alerts_alertname'))
    op.drop_table('alerts')
