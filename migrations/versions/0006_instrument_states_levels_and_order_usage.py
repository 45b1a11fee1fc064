"""instrument states, levels and order usage

Revision ID: 0006
Revises: 0005

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('instrument_levels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('off_below_a', sa.Float(), nullable=False),
    sa.Column('on_above_a', sa.Float(), nullable=False),
    sa.Column('hysteresis', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('histogram', sa.JSON(), nullable=False),
    sa.Column('learned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('override_off_below_a', sa.Float(), nullable=True),
    sa.Column('override_on_above_a', sa.Float(), nullable=True),
    sa.Column('override_hysteresis', sa.Float(), nullable=True),
    sa.Column('override_by', sa.String(length=100), nullable=True),
    sa.Column('override_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_instrument_levels_instrument_id_instruments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_levels')),
    sa.UniqueConstraint('instrument_id', name=op.f('uq_instrument_levels_instrument_id'))
    )
    with op.batch_alter_table('instrument_levels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instrument_levels_override_at'), ['override_at'], unique=False)

    op.create_table('instrument_state_intervals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_instrument_state_intervals_instrument_id_instruments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_state_intervals'))
    )
    with op.batch_alter_table('instrument_state_intervals', schema=None) as batch_op:
        batch_op.create_index('ix_instrument_state_intervals_instrument_start', ['instrument_id', 'start_at'], unique=False)
        batch_op.create_index('uq_instrument_state_intervals_open', ['instrument_id'], unique=True, sqlite_where=sa.text('end_at IS NULL'), postgresql_where=sa.text('end_at IS NULL'))

    op.create_table('order_usage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('on_minutes', sa.Float(), nullable=False),
    sa.Column('unobserved_minutes', sa.Float(), nullable=False),
    sa.Column('possible_no_show', sa.Boolean(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_order_usage_instrument_id_instruments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_usage_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_usage')),
    sa.UniqueConstraint('order_id', name=op.f('uq_order_usage_order_id'))
    )
    with op.batch_alter_table('order_usage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_usage_instrument_id'), ['instrument_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('order_usage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_usage_instrument_id'))

    op.drop_table('order_usage')
    with op.batch_alter_table('instrument_state_intervals', schema=None) as batch_op:
        batch_op.drop_index('uq_instrument_state_intervals_open', sqlite_where=sa.text('end_at IS NULL'), postgresql_where=sa.text('end_at IS NULL'))
        batch_op.drop_index('ix_instrument_state_intervals_instrument_start')

    op.drop_table('instrument_state_intervals')
    with op.batch_alter_table('instrument_levels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instrument_levels_override_at'))

    op.drop_table('instrument_levels')
