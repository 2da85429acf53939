"""incidents: incidents (commander, war-room chat, linked alerts), incident_notes (the timeline)

Revision ID: 0006_incidents
Revises: 0005_admin
Create Date: 2026-11-21

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006_incidents'
down_revision = '0005_admin'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('incidents',
    sa.Column('id', BigId, nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('commander', sa.String(length=128), nullable=False),
    sa.Column('opened_by', sa.String(length=128), nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=True),
    sa.Column('opened_event_id', sa.String(length=128), nullable=True),
    sa.Column('war_room_chat_id', sa.String(length=128), nullable=True),
    sa.Column('card_message_id', sa.String(length=128), nullable=True),
    sa.Column('alert_ids', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents')),
    sa.UniqueConstraint('opened_event_id', name=op.f('uq_incidents_opened_event_id'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_status'), ['status'], unique=False)

    op.create_table('incident_notes',
    sa.Column('id', BigId, nullable=False),
    sa.Column('incident_id', BigId, nullable=False),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_notes_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_notes'))
    )
    with op.batch_alter_table('incident_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_notes_incident_id'), ['incident_id'], unique=False)


def downgrade():
    with op.batch_alter_table('incident_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_notes_incident_id'))

    op.drop_table('incident_notes')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_status'))
        batch_op.drop_index(batch_op.f('ix_incidents_created_at'))

    op.drop_table('incidents')
