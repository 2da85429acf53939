"""users.session_secret: a random per-account secret that browser sessions are bound to (replaces session_version)

Revision ID: i10_session_secret
Revises: 0006_incidents
Create Date: 2026-12-04 17:40:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'i10_session_secret'
down_revision = '0006_incidents'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_secret', sa.String(length=64), nullable=True))
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('session_secret', sa.String))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():  # every account its own secret
        bind.execute(users.update().where(users.c.id == user_id).values(session_secret=secrets.token_hex(32)))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('session_secret', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('session_version')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_column('session_secret')
