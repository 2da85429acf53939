"""reports: report_posts (the weekly report posted once per chat and week); kb article status (drafts);
incidents.postmortem_state and postmortem_article_id

Revision ID: i14_reports
Revises: i16_first_hour
Create Date: 2026-12-04

"""
import sqlalchemy as sa
from alembic import op

revision = 'i14_reports'
down_revision = 'i16_first_hour'
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
    with op.batch_alter_table('kb_articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='published', nullable=False))
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('postmortem_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('postmortem_article_id', BigId, nullable=True))


def downgrade():
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('postmortem_article_id')
        batch_op.drop_column('postmortem_state')
    with op.batch_alter_table('kb_articles', schema=None) as batch_op:
        batch_op.drop_column('status')
    op.drop_table('report_posts')
