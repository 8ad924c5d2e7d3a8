"""claim keys and locks

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
    sa.Column('key', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('claim_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['customer_claim.id'], name=op.f('fk_claim_key_claim_id_customer_claim'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', 'claim_id', name=op.f('pk_claim_key')),
    sqlite_with_rowid=False
    )
    op.create_table('claim_lock',
    sa.Column('key', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_claim_lock'))
    )
    with op.batch_alter_table('customer_claim', schema=None) as batch_op:
        batch_op.create_index('ix_customer_claim_status_expires', ['status', 'expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customer_claim', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_claim_status_expires')
    op.drop_table('claim_lock')
    op.drop_table('claim_key')
