"""job outbox, refunds per payment, profit sharing, idempotency keys, one credit per payment

Revision ID: 0008
Revises: 0007

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('queue', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_at', TS, nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('handed_at', TS, nullable=True),
    sa.Column('done_at', TS, nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    )
    op.create_index('ix_jobs_status_due_at', 'jobs', ['status', 'due_at'], unique=False)
    op.create_index(op.f('ix_jobs_done_at'), 'jobs', ['done_at'], unique=False)

    op.create_table('refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('out_refund_no', sa.String(length=64), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('provider_refund_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', TS, nullable=True),
    sa.Column('confirmed_at', TS, nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_refunds_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_refunds_order_id_orders')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_refunds_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('out_refund_no', name=op.f('uq_refunds_out_refund_no')),
    )
    op.create_index(op.f('ix_refunds_order_id'), 'refunds', ['order_id'], unique=False)
    op.create_index(op.f('ix_refunds_payment_id'), 'refunds', ['payment_id'], unique=False)
    op.create_index(op.f('ix_refunds_status'), 'refunds', ['status'], unique=False)

    op.create_table('profit_shares',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('out_order_no', sa.String(length=64), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('provider_order_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('finished_at', TS, nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_profit_shares_order_id_orders')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_profit_shares_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profit_shares')),
    sa.UniqueConstraint('out_order_no', name=op.f('uq_profit_shares_out_order_no')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_profit_shares_payment_id')),
    )
    op.create_index(op.f('ix_profit_shares_order_id'), 'profit_shares', ['order_id'], unique=False)
    op.create_index(op.f('ix_profit_shares_status'), 'profit_shares', ['status'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('scope', 'key', name='uq_idempotency_keys_scope_key'),
    )
    op.create_index(op.f('ix_idempotency_keys_created_at'), 'idempotency_keys', ['created_at'], unique=False)

    with op.batch_alter_table('payments') as batch:
        batch.add_column(sa.Column('profit_sharing', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_check_constraint('refundable', 'refunded_cents >= 0 AND refunded_cents <= amount_cents')
    with op.batch_alter_table('ledger_transactions') as batch:
        batch.add_column(sa.Column('ref', sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f('uq_ledger_transactions_ref'), ['ref'])
    with op.batch_alter_table('institutions') as batch:
        batch.add_column(sa.Column('payee_type', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('payee_account', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('payee_name', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('institutions') as batch:
        batch.drop_column('payee_name')
        batch.drop_column('payee_account')
        batch.drop_column('payee_type')
    with op.batch_alter_table('ledger_transactions') as batch:
        batch.drop_constraint(op.f('uq_ledger_transactions_ref'), type_='unique')
        batch.drop_column('ref')
    with op.batch_alter_table('payments') as batch:
        batch.drop_constraint(op.f('ck_payments_refundable'), type_='check')
        batch.drop_column('profit_sharing')
    op.drop_table('idempotency_keys')
    op.drop_table('profit_shares')
    op.drop_table('refunds')
    op.drop_table('jobs')
