"""state intervals: why offline (sensor fault), their source (sensor, late data, staff); staff corrections; frozen month versions; levels: the adaptive method's detail

Revision ID: 0010
Revises: 0009

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instrument_state_intervals') as batch:
        # offline because the sensor is dead ("sensor_fault") rather than silent (NULL)
        batch.add_column(sa.Column('reason', sa.String(length=32), nullable=True))
        # sensor (live) | late_data (re-derived from readings that came late) | staff (a correction)
        batch.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='sensor'))
        batch.add_column(sa.Column('amended_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'usage_corrections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=False),
        sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_by_name', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_usage_corrections_instrument_start', 'usage_corrections', ['instrument_id', 'start_at'])
    op.create_table(
        'usage_month_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.Column('purpose', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('instrument_id', 'month', 'version', name='uq_usage_month_versions'),
    )
    op.create_index('ix_usage_month_versions_instrument_id', 'usage_month_versions', ['instrument_id'])
    with op.batch_alter_table('instrument_levels') as batch:
        batch.add_column(sa.Column('method', sa.String(length=16), nullable=False, server_default='baseline'))
        batch.add_column(sa.Column('bridge_s', sa.Float(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('clock_offset_s', sa.Float(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('explain', sa.String(length=300), nullable=False, server_default=''))


def downgrade() -> None:
    op.drop_index('ix_usage_month_versions_instrument_id', table_name='usage_month_versions')
    op.drop_table('usage_month_versions')
    op.drop_index('ix_usage_corrections_instrument_start', table_name='usage_corrections')
    op.drop_table('usage_corrections')
    with op.batch_alter_table('instrument_levels') as batch:
        for column in ('explain', 'clock_offset_s', 'bridge_s', 'method'):
            batch.drop_column(column)
    with op.batch_alter_table('instrument_state_intervals') as batch:
        batch.drop_column('amended_at')
        batch.drop_column('source')
        batch.drop_column('reason')
