"""claim keys and locks; claims indexed by status and expiry instead of status and brand

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('claim_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.BigInteger(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_key'))
    )
    with op.batch_alter_table('claim_key', schema=None) as batch_op:
        batch_op.create_index('ix_claim_key_key_claim', ['key', 'claim_id'], unique=False)
    op.create_table('claim_lock',
    sa.Column('key', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_claim_lock'))
    )
    with op.batch_alter_table('customer_claim', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_claim_status_brand')  # name lookups go through claim_key
        batch_op.create_index('ix_customer_claim_status_expires', ['status', 'expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customer_claim', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_claim_status_expires')
        batch_op.create_index('ix_customer_claim_status_brand', ['status', 'brand_key'], unique=False)
    op.drop_table('claim_lock')
    op.drop_table('claim_key')
