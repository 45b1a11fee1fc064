"""onboarding review: review status of instruments and listings, the audit log of decisions, pending revisions of live objects

Revision ID: 0013
Revises: 0012

"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # what exists was reviewed the old way (a catalog import made it live): it stays approved
    for table in ('instruments', 'services'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('review_status', sa.String(length=20), nullable=False, server_default='approved'))
            batch.create_index(f'ix_{table}_review_status', ['review_status'])
    op.create_table(
        'review_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('object_type', sa.String(length=16), nullable=False),
        sa.Column('object_code', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=24), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=True),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_name', sa.String(length=100), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_review_events_object', 'review_events', ['object_type', 'object_code'])
    op.create_table(
        'pending_revisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('object_type', sa.String(length=16), nullable=False),
        sa.Column('object_code', sa.String(length=64), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('submitted_by_id', sa.Integer(), nullable=True),
        sa.Column('submitted_by_name', sa.String(length=100), nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by_name', sa.String(length=100), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_pending_revisions_object', 'pending_revisions', ['object_type', 'object_code'])


def downgrade() -> None:
    op.drop_table('pending_revisions')
    op.drop_table('review_events')
    for table in ('services', 'instruments'):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f'ix_{table}_review_status')
            batch.drop_column('review_status')
