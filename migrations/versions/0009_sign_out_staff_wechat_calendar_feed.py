"""sign-out and revocation (session version), staff official-account binding, instrument calendar feed

Revision ID: 0009
Revises: 0008

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        # a token or console session carries the version it was issued under: bumping it signs every one out
        batch.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))
        # the official account's openid differs from the mini-program's: staff bind it by scanning a QR code
        batch.add_column(sa.Column('official_openid', sa.String(length=64), nullable=True))
        batch.create_unique_constraint('uq_users_official_openid', ['official_openid'])
    with op.batch_alter_table('instruments') as batch:
        batch.add_column(sa.Column('calendar_feed_secret', sa.String(length=64), nullable=True))
        batch.create_unique_constraint('uq_instruments_calendar_feed_secret', ['calendar_feed_secret'])


def downgrade() -> None:
    with op.batch_alter_table('instruments') as batch:
        batch.drop_constraint('uq_instruments_calendar_feed_secret', type_='unique')
        batch.drop_column('calendar_feed_secret')
    with op.batch_alter_table('users') as batch:
        batch.drop_constraint('uq_users_official_openid', type_='unique')
        batch.drop_column('official_openid')
        batch.drop_column('session_version')
