"""reports: report_posts (the weekly report posted once per chat and week)

Revision ID: i14_reports
Revises: 0006_incidents
Create Date: 2026-12-04

"""
import sqlalchemy as sa
from alembic import op

revision = 'i14_reports'
down_revision = '0006_incidents'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('report_posts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('week', sa.String(length=10), nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=True),
    sa.Column('image_key', sa.String(length=128), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_posts')),
    sa.UniqueConstraint('week', 'chat_id', name='uq_report_posts_week_chat_id')
    )


def downgrade():
    op.drop_table('report_posts')
