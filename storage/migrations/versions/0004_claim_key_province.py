"""claim keys carry their claim's province: a name lookup reads only its own province's keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Rows written before this revision get province 0 ("names none"), which every lookup still reads:
correct, only less selective, until those claims are written again.
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('claim_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('province', sa.SmallInteger(), nullable=False, server_default='0'))
        batch_op.drop_index('ix_claim_key_key_claim')
        batch_op.create_index('ix_claim_key_key_province_claim', ['key', 'province', 'claim_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('claim_key', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_key_key_province_claim')
        batch_op.create_index('ix_claim_key_key_claim', ['key', 'claim_id'], unique=False)
        batch_op.drop_column('province')
