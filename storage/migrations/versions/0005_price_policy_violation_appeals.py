"""price policies indexed by SKU and effective date; violations keep who appealed, when, and the
decider's reason

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('price_policy', schema=None) as batch_op:
        batch_op.drop_index('ix_price_policy_sku_id')
        batch_op.create_index('ix_price_policy_sku_effective', ['sku_id', 'effective_from'], unique=False)
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appealed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('appealed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolution', sa.Text(), nullable=False, server_default=''))
        batch_op.create_foreign_key(batch_op.f('fk_violation_appealed_by_id_user'), 'user', ['appealed_by_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_violation_appealed_by_id_user'), type_='foreignkey')
        batch_op.drop_column('resolution')
        batch_op.drop_column('appealed_at')
        batch_op.drop_column('appealed_by_id')
    with op.batch_alter_table('price_policy', schema=None) as batch_op:
        batch_op.drop_index('ix_price_policy_sku_effective')
        batch_op.create_index('ix_price_policy_sku_id', ['sku_id'], unique=False)
