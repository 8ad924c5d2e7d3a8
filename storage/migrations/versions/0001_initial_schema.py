"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_state')),
    sa.UniqueConstraint('kind', 'subject', name=op.f('uq_alert_state_kind_subject'))
    )
    op.create_table('cache_entry',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_cache_entry'))
    )
    op.create_table('job_setting',
    sa.Column('job', sa.String(length=50), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('job', name=op.f('pk_job_setting'))
    )
    op.create_table('job_tick',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=50), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('worker', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_tick')),
    sa.UniqueConstraint('job', 'scheduled_at', name=op.f('uq_job_tick_job_scheduled_at'))
    )
    op.create_table('partner',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['partner.id'], name=op.f('fk_partner_parent_id_partner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner')),
    sa.UniqueConstraint('code', name=op.f('uq_partner_code'))
    )
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_region'), ['region'], unique=False)

    op.create_table('processed_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('replies', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processed_message')),
    sa.UniqueConstraint('channel', 'message_id', name=op.f('uq_processed_message_channel_message_id'))
    )
    with op.batch_alter_table('processed_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_message_created_at'), ['created_at'], unique=False)

    op.create_table('rebate_scheme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('basis', sa.String(length=8), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('sku_group', sa.String(length=50), nullable=False),
    sa.Column('tiers', sa.JSON(), nullable=False),
    sa.Column('partner_tiers', sa.String(length=100), nullable=False),
    sa.Column('cap_fen', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rebate_scheme')),
    sa.UniqueConstraint('code', name=op.f('uq_rebate_scheme_code'))
    )
    op.create_table('sku',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('pack_unit', sa.String(length=8), nullable=False),
    sa.Column('pack_size', sa.Integer(), nullable=False),
    sa.Column('guide_price_fen', sa.Integer(), nullable=False),
    sa.Column('floor_price_fen', sa.Integer(), nullable=False),
    sa.Column('safety_stock', sa.Integer(), nullable=False),
    sa.Column('group_name', sa.String(length=50), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sku')),
    sa.UniqueConstraint('code', name=op.f('uq_sku_code'))
    )
    with op.batch_alter_table('sku', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sku_group_name'), ['group_name'], unique=False)

    op.create_table('safety_stock_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_safety_stock_override_partner_id_partner')),
    sa.ForeignKeyConstraint(['sku_id'], ['sku.id'], name=op.f('fk_safety_stock_override_sku_id_sku')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_safety_stock_override')),
    sa.UniqueConstraint('sku_id', 'tier', 'partner_id', name=op.f('uq_safety_stock_override_sku_id_tier_partner_id'))
    )
    op.create_table('sku_alias',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['sku_id'], ['sku.id'], name=op.f('fk_sku_alias_sku_id_sku'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sku_alias')),
    sa.UniqueConstraint('alias', name=op.f('uq_sku_alias_alias'))
    )
    with op.batch_alter_table('sku_alias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sku_alias_sku_id'), ['sku_id'], unique=False)

    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_user_partner_id_partner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user'))
    )
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_partner_id'), ['partner_id'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('entity', sa.String(length=50), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_audit_log_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('chat_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('chat_id', sa.String(length=128), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('last_inbound_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_chat_identity_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_identity')),
    sa.UniqueConstraint('channel', 'external_id', name=op.f('uq_chat_identity_channel_external_id'))
    )
    with op.batch_alter_table('chat_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_identity_user_id'), ['user_id'], unique=False)

    op.create_table('customer_claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('customer', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('brand_key', sa.String(length=100), nullable=False),
    sa.Column('region_key', sa.String(length=100), nullable=False),
    sa.Column('industry_key', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('uscc', sa.String(length=18), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('conflict_with_id', sa.Integer(), nullable=True),
    sa.Column('conflict_reason', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.Column('extension_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_days', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conflict_with_id'], ['customer_claim.id'], name=op.f('fk_customer_claim_conflict_with_id_customer_claim')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_customer_claim_created_by_id_user')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_customer_claim_decided_by_id_user')),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_customer_claim_partner_id_partner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_claim')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_customer_claim_idempotency_key'))
    )
    with op.batch_alter_table('customer_claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_claim_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index('ix_customer_claim_phone', ['phone'], unique=False)
        batch_op.create_index('ix_customer_claim_status_brand', ['status', 'brand_key'], unique=False)
        batch_op.create_index('ix_customer_claim_uscc', ['uscc'], unique=False)

    op.create_table('invite',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('regions', sa.String(length=400), nullable=False),
    sa.Column('user_name', sa.String(length=100), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_invite_created_by_id_user')),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_invite_partner_id_partner')),
    sa.ForeignKeyConstraint(['used_by_id'], ['user.id'], name=op.f('fk_invite_used_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invite')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_invite_code_hash'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=400), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_by', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_outbox_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('price_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.Column('guide_price_fen', sa.Integer(), nullable=False),
    sa.Column('floor_price_fen', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_price_policy_created_by_id_user')),
    sa.ForeignKeyConstraint(['sku_id'], ['sku.id'], name=op.f('fk_price_policy_sku_id_sku')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_policy'))
    )
    with op.batch_alter_table('price_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_policy_sku_id'), ['sku_id'], unique=False)

    op.create_table('sale',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('customer', sa.String(length=200), nullable=False),
    sa.Column('sold_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_sale_created_by_id_user')),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_sale_partner_id_partner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sale')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_sale_idempotency_key'))
    )
    with op.batch_alter_table('sale', schema=None) as batch_op:
        batch_op.create_index('ix_sale_partner_sold_on', ['partner_id', 'sold_on'], unique=False)

    op.create_table('shipment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('shipped_on', sa.Date(), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_shipment_created_by_id_user')),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_shipment_partner_id_partner')),
    sa.ForeignKeyConstraint(['sku_id'], ['sku.id'], name=op.f('fk_shipment_sku_id_sku')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment')),
    sa.UniqueConstraint('ref', name=op.f('uq_shipment_ref'))
    )
    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.create_index('ix_shipment_partner_sku_on', ['partner_id', 'sku_id', 'shipped_on'], unique=False)

    op.create_table('stocktake',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('counted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_stocktake_created_by_id_user')),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_stocktake_partner_id_partner')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stocktake')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_stocktake_idempotency_key'))
    )
    with op.batch_alter_table('stocktake', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stocktake_partner_id'), ['partner_id'], unique=False)

    op.create_table('user_region',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_region_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_region')),
    sa.UniqueConstraint('user_id', 'region', name=op.f('uq_user_region_user_id_region'))
    )
    op.create_table('callback_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=16), nullable=False),
    sa.Column('text', sa.String(length=200), nullable=False),
    sa.Column('identity_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['identity_id'], ['chat_identity.id'], name=op.f('fk_callback_token_identity_id_chat_identity'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_token')),
    sa.UniqueConstraint('token', name=op.f('uq_callback_token_token'))
    )
    op.create_table('conversation_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identity_id', sa.Integer(), nullable=False),
    sa.Column('flow', sa.String(length=32), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['identity_id'], ['chat_identity.id'], name=op.f('fk_conversation_state_identity_id_chat_identity'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_state')),
    sa.UniqueConstraint('identity_id', name=op.f('uq_conversation_state_identity_id'))
    )
    op.create_table('sale_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sale_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['sale_id'], ['sale.id'], name=op.f('fk_sale_line_sale_id_sale'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sku_id'], ['sku.id'], name=op.f('fk_sale_line_sku_id_sku')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sale_line'))
    )
    with op.batch_alter_table('sale_line', schema=None) as batch_op:
        batch_op.create_index('ix_sale_line_sku', ['sku_id', 'sale_id'], unique=False)

    op.create_table('stocktake_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stocktake_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['sku_id'], ['sku.id'], name=op.f('fk_stocktake_line_sku_id_sku')),
    sa.ForeignKeyConstraint(['stocktake_id'], ['stocktake.id'], name=op.f('fk_stocktake_line_stocktake_id_stocktake'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stocktake_line'))
    )
    with op.batch_alter_table('stocktake_line', schema=None) as batch_op:
        batch_op.create_index('ix_stocktake_line_sku', ['sku_id', 'stocktake_id'], unique=False)

    op.create_table('violation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('sale_id', sa.Integer(), nullable=False),
    sa.Column('sale_line_id', sa.Integer(), nullable=True),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('appeal_reason', sa.Text(), nullable=False),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_violation_partner_id_partner')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['user.id'], name=op.f('fk_violation_resolved_by_id_user')),
    sa.ForeignKeyConstraint(['sale_id'], ['sale.id'], name=op.f('fk_violation_sale_id_sale')),
    sa.ForeignKeyConstraint(['sale_line_id'], ['sale_line.id'], name=op.f('fk_violation_sale_line_id_sale_line')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_violation'))
    )
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_violation_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_violation_sale_id'), ['sale_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_violation_sale_id'))
        batch_op.drop_index(batch_op.f('ix_violation_partner_id'))

    op.drop_table('violation')
    with op.batch_alter_table('stocktake_line', schema=None) as batch_op:
        batch_op.drop_index('ix_stocktake_line_sku')

    op.drop_table('stocktake_line')
    with op.batch_alter_table('sale_line', schema=None) as batch_op:
        batch_op.drop_index('ix_sale_line_sku')

    op.drop_table('sale_line')
    op.drop_table('conversation_state')
    op.drop_table('callback_token')
    op.drop_table('user_region')
    with op.batch_alter_table('stocktake', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stocktake_partner_id'))

    op.drop_table('stocktake')
    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.drop_index('ix_shipment_partner_sku_on')

    op.drop_table('shipment')
    with op.batch_alter_table('sale', schema=None) as batch_op:
        batch_op.drop_index('ix_sale_partner_sold_on')

    op.drop_table('sale')
    with op.batch_alter_table('price_policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_policy_sku_id'))

    op.drop_table('price_policy')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
    op.drop_table('invite')
    with op.batch_alter_table('customer_claim', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_claim_uscc')
        batch_op.drop_index('ix_customer_claim_status_brand')
        batch_op.drop_index('ix_customer_claim_phone')
        batch_op.drop_index(batch_op.f('ix_customer_claim_partner_id'))

    op.drop_table('customer_claim')
    with op.batch_alter_table('chat_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_identity_user_id'))

    op.drop_table('chat_identity')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_entity')

    op.drop_table('audit_log')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_partner_id'))

    op.drop_table('user')
    with op.batch_alter_table('sku_alias', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sku_alias_sku_id'))

    op.drop_table('sku_alias')
    op.drop_table('safety_stock_override')
    with op.batch_alter_table('sku', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sku_group_name'))

    op.drop_table('sku')
    op.drop_table('rebate_scheme')
    with op.batch_alter_table('processed_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_message_created_at'))

    op.drop_table('processed_message')
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_region'))

    op.drop_table('partner')
    op.drop_table('job_tick')
    op.drop_table('job_setting')
    op.drop_table('cache_entry')
    op.drop_table('alert_state')
