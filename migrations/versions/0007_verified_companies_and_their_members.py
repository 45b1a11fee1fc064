"""verified companies and their members; vouchers belong to a company

Revision ID: 0007
Revises: 0006

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOT_REMOVED = sa.text("status <> 'removed'")


def _document_columns(prefix: str) -> list[sa.Column]:
    return [
        sa.Column(f'{prefix}_filename', sa.String(length=200), nullable=True),
        sa.Column(f'{prefix}_content_type', sa.String(length=64), nullable=True),
        sa.Column(f'{prefix}_size_bytes', sa.BigInteger(), nullable=True),
        sa.Column(f'{prefix}_sha256', sa.String(length=64), nullable=True),
        sa.Column(f'{prefix}_storage_key', sa.String(length=200), nullable=True),
    ]


def upgrade() -> None:
    op.create_table('companies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('legal_rep_name', sa.String(length=100), nullable=True),
    sa.Column('status', sa.Enum('unverified', 'pending', 'verified', 'rejected', name='company_status',
                                native_enum=False, length=16), nullable=False),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('submitter_is_legal_rep', sa.Boolean(), nullable=True),
    sa.Column('submitted_at', TS, nullable=True),
    *_document_columns('licence'),
    *_document_columns('authorisation'),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', TS, nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_companies_reviewed_by_users')),
    sa.ForeignKeyConstraint(['submitted_by'], ['users.id'], name=op.f('fk_companies_submitted_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_companies')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_companies_credit_code'))
    )
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_companies_status'), ['status'], unique=False)

    op.create_table('company_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('admin', 'member', name='company_member_role', native_enum=False, length=16),
              nullable=False),
    sa.Column('status', sa.Enum('pending', 'active', 'removed', name='company_member_status', native_enum=False,
                                length=16), nullable=False),
    sa.Column('invited_by', sa.Integer(), nullable=True),
    sa.Column('approved_by', sa.Integer(), nullable=True),
    sa.Column('removed_by', sa.Integer(), nullable=True),
    sa.Column('activated_at', TS, nullable=True),
    sa.Column('removed_at', TS, nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['approved_by'], ['users.id'], name=op.f('fk_company_members_approved_by_users')),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_company_members_company_id_companies'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invited_by'], ['users.id'], name=op.f('fk_company_members_invited_by_users')),
    sa.ForeignKeyConstraint(['removed_by'], ['users.id'], name=op.f('fk_company_members_removed_by_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_company_members_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_members'))
    )
    with op.batch_alter_table('company_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_members_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_company_members_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_company_members_current_user', ['user_id'], unique=True,
                              sqlite_where=NOT_REMOVED, postgresql_where=NOT_REMOVED)

    with op.batch_alter_table('voucher_applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('company_id', sa.Integer(), nullable=True))
    with op.batch_alter_table('voucher_redemptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spent_by_user_id', sa.Integer(), nullable=True))

    _backfill()

    # every row has its company and spender now: make them required and referenced
    with op.batch_alter_table('voucher_applications', schema=None) as batch_op:
        batch_op.alter_column('company_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_voucher_applications_company_id_companies'), 'companies',
                                    ['company_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_voucher_applications_company_id'), ['company_id'], unique=False)
    with op.batch_alter_table('voucher_redemptions', schema=None) as batch_op:
        batch_op.alter_column('spent_by_user_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_voucher_redemptions_spent_by_user_id_users'), 'users',
                                    ['spent_by_user_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_voucher_redemptions_spent_by_user_id'), ['spent_by_user_id'],
                              unique=False)


def _backfill() -> None:
    """One unverified company per credit code seen on a voucher application (named as on its latest
    application); nobody becomes a member, so old vouchers wait until someone verifies the company."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT company_credit_code, company_name FROM voucher_applications ORDER BY id")).all()
    names: dict[str, str] = {}
    for code, name in rows:
        names[code] = name or code
    companies = sa.table('companies', sa.column('credit_code', sa.String), sa.column('name', sa.String),
                         sa.column('status', sa.String), sa.column('created_at', TS), sa.column('updated_at', TS))
    now = datetime.now(timezone.utc)
    if names:
        op.bulk_insert(companies, [{'credit_code': code, 'name': name, 'status': 'unverified', 'created_at': now,
                                    'updated_at': now} for code, name in names.items()])
    bind.execute(sa.text(
        "UPDATE voucher_applications SET company_id = "
        "(SELECT companies.id FROM companies WHERE companies.credit_code = voucher_applications.company_credit_code)"))
    bind.execute(sa.text(
        "UPDATE voucher_redemptions SET spent_by_user_id = "
        "(SELECT orders.user_id FROM orders WHERE orders.id = voucher_redemptions.order_id)"))


def downgrade() -> None:
    with op.batch_alter_table('voucher_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_redemptions_spent_by_user_id'))
        batch_op.drop_constraint(batch_op.f('fk_voucher_redemptions_spent_by_user_id_users'), type_='foreignkey')
        batch_op.drop_column('spent_by_user_id')
    with op.batch_alter_table('voucher_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_applications_company_id'))
        batch_op.drop_constraint(batch_op.f('fk_voucher_applications_company_id_companies'), type_='foreignkey')
        batch_op.drop_column('company_id')

    with op.batch_alter_table('company_members', schema=None) as batch_op:
        batch_op.drop_index('uq_company_members_current_user', sqlite_where=NOT_REMOVED,
                            postgresql_where=NOT_REMOVED)
        batch_op.drop_index(batch_op.f('ix_company_members_user_id'))
        batch_op.drop_index(batch_op.f('ix_company_members_company_id'))

    op.drop_table('company_members')
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_companies_status'))

    op.drop_table('companies')
