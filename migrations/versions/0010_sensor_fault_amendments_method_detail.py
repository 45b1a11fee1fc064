"""state intervals: why offline (sensor fault) and amended by late data; levels: the adaptive method's detail

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
        # set when readings that arrived late re-derived this stretch (an auditable amendment)
        batch.add_column(sa.Column('amended_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('instrument_levels') as batch:
        batch.add_column(sa.Column('method', sa.String(length=16), nullable=False, server_default='baseline'))
        batch.add_column(sa.Column('bridge_s', sa.Float(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('clock_offset_s', sa.Float(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('explain', sa.String(length=300), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('instrument_levels') as batch:
        for column in ('explain', 'clock_offset_s', 'bridge_s', 'method'):
            batch.drop_column(column)
    with op.batch_alter_table('instrument_state_intervals') as batch:
        batch.drop_column('amended_at')
        batch.drop_column('reason')
