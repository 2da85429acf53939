"""exports: bitable_rows (what was sent to Bitable, by record_id) and bitable_cursors (high-water marks)

Revision ID: i14_bitable
Revises: i9_outbox
Create Date: 2026-12-04

"""
import sqlalchemy as sa
from alembic import op

revision = 'i14_bitable'
down_revision = 'i9_outbox'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('bitable_rows',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('object_id', BigId, nullable=False),
    sa.Column('table_id', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.Column('exported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'object_id', name=op.f('pk_bitable_rows'))
    )
    with op.batch_alter_table('bitable_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bitable_rows_final'), ['final'], unique=False)
    op.create_table('bitable_cursors',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('table_id', sa.String(length=64), nullable=False),
    sa.Column('last_id', BigId, nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('pending', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_bitable_cursors'))
    )


def downgrade():
    op.drop_table('bitable_cursors')
    with op.batch_alter_table('bitable_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bitable_rows_final'))
    op.drop_table('bitable_rows')
