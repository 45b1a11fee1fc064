"""annual evaluation: rounds, their institutions and results, expert assignments and scores, self-reports, appeals

Revision ID: 0012
Revises: 0011

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'evaluation_rounds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('tree', sa.JSON(), nullable=False),
        sa.Column('rules', sa.JSON(), nullable=False),
        sa.Column('budget_fen', sa.BigInteger(), nullable=False),
        sa.Column('self_report_due', sa.Date(), nullable=False),
        sa.Column('scoring_due', sa.Date(), nullable=False),
        sa.Column('appeal_days', sa.Integer(), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('appeal_deadline', sa.Date(), nullable=True),
        sa.Column('payout_note', sa.String(length=200), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('year', name='uq_evaluation_rounds_year'),
    )
    op.create_table(
        'evaluation_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('total', sa.Float(), nullable=True),
        sa.Column('tie_score', sa.Float(), nullable=True),
        sa.Column('grade', sa.String(length=16), nullable=True),
        sa.Column('rank', sa.Integer(), nullable=True),
        sa.Column('subsidy_fen', sa.BigInteger(), nullable=True),
        sa.Column('rectification', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['round_id'], ['evaluation_rounds.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('round_id', 'institution_id', name='uq_evaluation_entries'),
    )
    op.create_index('ix_evaluation_entries_round_id', 'evaluation_entries', ['round_id'])
    op.create_index('ix_evaluation_entries_institution_id', 'evaluation_entries', ['institution_id'])
    op.create_table(
        'evaluation_assignments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('expert_id', sa.Integer(), nullable=False),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('signed_name', sa.String(length=100), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['evaluation_rounds.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['expert_id'], ['users.id'], ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('round_id', 'institution_id', 'expert_id', name='uq_evaluation_assignments'),
    )
    op.create_index('ix_evaluation_assignments_round_id', 'evaluation_assignments', ['round_id'])
    op.create_index('ix_evaluation_assignments_expert_id', 'evaluation_assignments', ['expert_id'])
    op.create_table(
        'evaluation_scores',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assignment_id', sa.Integer(), nullable=False),
        sa.Column('indicator', sa.String(length=64), nullable=False),
        sa.Column('points', sa.Float(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['assignment_id'], ['evaluation_assignments.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('assignment_id', 'indicator', name='uq_evaluation_scores'),
    )
    op.create_index('ix_evaluation_scores_assignment_id', 'evaluation_scores', ['assignment_id'])
    op.create_table(
        'evaluation_self_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('effective_hours', sa.Float(), nullable=False),
        sa.Column('external_hours', sa.Float(), nullable=False),
        sa.Column('instruments_open', sa.Integer(), nullable=False),
        sa.Column('external_income_fen', sa.BigInteger(), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('attachments', sa.JSON(), nullable=False),
        sa.Column('submitted_by_id', sa.Integer(), nullable=True),
        sa.Column('submitted_by_name', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['evaluation_rounds.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('round_id', 'institution_id', name='uq_evaluation_self_reports'),
    )
    op.create_index('ix_evaluation_self_reports_round_id', 'evaluation_self_reports', ['round_id'])
    op.create_table(
        'evaluation_appeals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('filed_by_id', sa.Integer(), nullable=True),
        sa.Column('filed_by_name', sa.String(length=100), nullable=False),
        sa.Column('reply', sa.Text(), nullable=True),
        sa.Column('decided_by_name', sa.String(length=100), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('previous', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['evaluation_rounds.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['filed_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('round_id', 'institution_id', name='uq_evaluation_appeals'),
    )
    op.create_index('ix_evaluation_appeals_round_id', 'evaluation_appeals', ['round_id'])


def downgrade() -> None:
    op.drop_table('evaluation_appeals')
    op.drop_table('evaluation_self_reports')
    op.drop_table('evaluation_scores')
    op.drop_table('evaluation_assignments')
    op.drop_table('evaluation_entries')
    op.drop_table('evaluation_rounds')
