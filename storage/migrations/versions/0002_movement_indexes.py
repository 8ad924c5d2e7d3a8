"""movement indexes: lines by their sale/stocktake, sale lines covering (sku, sale, qty)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_sale_line_sale', 'sale_line', ['sale_id'])
    op.create_index('ix_stocktake_line_stocktake', 'stocktake_line', ['stocktake_id'])
    op.drop_index('ix_sale_line_sku', table_name='sale_line')
    op.create_index('ix_sale_line_sku', 'sale_line', ['sku_id', 'sale_id', 'qty'])


def downgrade() -> None:
    op.drop_index('ix_sale_line_sku', table_name='sale_line')
    op.create_index('ix_sale_line_sku', 'sale_line', ['sku_id', 'sale_id'])
    op.drop_index('ix_stocktake_line_stocktake', table_name='stocktake_line')
    op.drop_index('ix_sale_line_sale', table_name='sale_line')
