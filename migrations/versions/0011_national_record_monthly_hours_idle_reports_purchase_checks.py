"""instruments: the national record's fields; monthly machine-hours and self-reported hours; idle reports; purchase requests

Revision ID: 0011
Revises: 0010

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instruments') as batch:
        batch.add_column(sa.Column('classification_code', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('platform_code', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('acquisition', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('country', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('in_service_date', sa.Date(), nullable=True))
        batch.add_column(sa.Column('disciplines', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('run_status', sa.String(length=24), nullable=True))
        batch.add_column(sa.Column('share_mode', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('fee_standard', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('customs_supervised', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('province', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('city', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('county', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('contact_name', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('contact_phone', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('photo_file', sa.String(length=200), nullable=True))
        batch.create_index('ix_instruments_classification_code', ['classification_code'])
        batch.create_index('ix_instruments_city', ['city'])
        batch.create_unique_constraint('uq_instruments_platform_code', ['platform_code'])
    op.create_table(
        'instrument_months',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('on_hours', sa.Float(), nullable=False),
        sa.Column('standby_hours', sa.Float(), nullable=False),
        sa.Column('off_hours', sa.Float(), nullable=False),
        sa.Column('offline_hours', sa.Float(), nullable=False),
        sa.Column('unknown_hours', sa.Float(), nullable=False),
        sa.Column('external_hours', sa.Float(), nullable=False),
        sa.Column('self_reported_hours', sa.Float(), nullable=True),
        sa.Column('effective_hours', sa.Float(), nullable=False),
        sa.Column('effective_source', sa.String(length=16), nullable=False),
        sa.Column('quota_hours', sa.Float(), nullable=False),
        sa.Column('income_internal_fen', sa.BigInteger(), nullable=False),
        sa.Column('income_external_fen', sa.BigInteger(), nullable=False),
        sa.Column('orders_settled', sa.Integer(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('instrument_id', 'month', name='uq_instrument_months'),
    )
    op.create_index('ix_instrument_months_instrument_id', 'instrument_months', ['instrument_id'])
    op.create_index('ix_instrument_months_month', 'instrument_months', ['month'])
    op.create_table(
        'self_reported_hours',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('hours', sa.Float(), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.Column('reported_by_id', sa.Integer(), nullable=True),
        sa.Column('reported_by_name', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('instrument_id', 'month', name='uq_self_reported_hours'),
    )
    op.create_index('ix_self_reported_hours_instrument_id', 'self_reported_hours', ['instrument_id'])
    op.create_table(
        'idle_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period_from', sa.String(length=7), nullable=False),
        sa.Column('period_to', sa.String(length=7), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('generated_by', sa.String(length=100), nullable=False),
        sa.Column('thresholds', sa.JSON(), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('period_from', 'period_to', 'version', name='uq_idle_reports'),
    )
    op.create_table(
        'purchase_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=True),
        sa.Column('submitted_by_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('classification_code', sa.String(length=16), nullable=True),
        sa.Column('model', sa.String(length=200), nullable=True),
        sa.Column('specs', sa.Text(), nullable=True),
        sa.Column('price_fen', sa.BigInteger(), nullable=False),
        sa.Column('purpose', sa.Text(), nullable=True),
        sa.Column('expected_hours', sa.Float(), nullable=True),
        sa.Column('province', sa.String(length=32), nullable=True),
        sa.Column('city', sa.String(length=64), nullable=True),
        sa.Column('quotations', sa.JSON(), nullable=False),
        sa.Column('similar', sa.JSON(), nullable=False),
        sa.Column('draft_opinion', sa.String(length=16), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('split_suspected', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('conclusion', sa.String(length=16), nullable=True),
        sa.Column('conclusion_comment', sa.Text(), nullable=True),
        sa.Column('concluded_by', sa.String(length=100), nullable=True),
        sa.Column('concluded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_purchase_requests_institution_id', 'purchase_requests', ['institution_id'])


def downgrade() -> None:
    op.drop_table('purchase_requests')
    op.drop_table('idle_reports')
    op.drop_table('self_reported_hours')
    op.drop_table('instrument_months')
    with op.batch_alter_table('instruments') as batch:
        batch.drop_constraint('uq_instruments_platform_code', type_='unique')
        batch.drop_index('ix_instruments_city')
        batch.drop_index('ix_instruments_classification_code')
        for column in ('photo_file', 'contact_phone', 'contact_name', 'county', 'city', 'province',
                       'customs_supervised', 'fee_standard', 'share_mode', 'run_status', 'disciplines',
                       'in_service_date', 'country', 'acquisition', 'platform_code', 'classification_code'):
            batch.drop_column(column)
