"""AI gateway: llm_calls.client/upstream/tokens_estimated, per-token limits on api_tokens

Revision ID: i12_gateway
Revises: i14_reports
Create Date: 2026-12-04

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'i12_gateway'
down_revision = 'i14_reports'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('llm_calls') as batch:
        batch.add_column(sa.Column('client', sa.String(length=64), server_default='bot', nullable=False))
        batch.add_column(sa.Column('upstream', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('tokens_estimated', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_index('ix_llm_calls_client', ['client'], unique=False)
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('rate_per_minute', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('tokens_per_day', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('concurrency', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('concurrency')
        batch.drop_column('tokens_per_day')
        batch.drop_column('rate_per_minute')
    with op.batch_alter_table('llm_calls') as batch:
        batch.drop_index('ix_llm_calls_client')
        batch.drop_column('tokens_estimated')
        batch.drop_column('upstream')
        batch.drop_column('client')
