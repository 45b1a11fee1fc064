"""unmet demand log

Revision ID: 0003
Revises: 0002

"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unmet_demands',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('query', sa.String(length=500), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('user_key', sa.String(length=128), nullable=True),
    sa.Column('city', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unmet_demands'))
    )
    with op.batch_alter_table('unmet_demands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unmet_demands_user_key'), ['user_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('unmet_demands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unmet_demands_user_key'))

    op.drop_table('unmet_demands')
