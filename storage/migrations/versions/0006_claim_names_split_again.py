"""claim names split again: name parts and claim keys rewritten by the rules of this revision
(traditional characters folded, county names read as place and as brand, slips in legal forms and
industry words, industries stored word by word, regions as alternatives)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

No schema change: `customer_claim`'s name parts and the `claim_key` rows are derived from the
customer name, like a search index, and a lookup only finds what was written by the rules it looks
up with. So every claim is split again here, a batch at a time, by the rules the caller hands in
(`migrate.upgrade(..., claim_index=services.claims_match.stored_index)`: the one place those rules
live; storage does not import them). Downgrade leaves the rows as
written: the earlier code then finds most claims as before, and each fully again once written anew.
"""
import sqlalchemy as sa
from alembic import context, op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BATCH = 5000
PARTS = ("name_key", "brand_key", "region_key", "industry_key")


def upgrade() -> None:
    index = context.config.attributes.get("claim_index")
    bind = op.get_bind()
    claim = sa.table("customer_claim", sa.column("id", sa.Integer), sa.column("customer", sa.String),
                     *(sa.column(p, sa.String) for p in PARTS))
    key = sa.table("claim_key", sa.column("key", sa.BigInteger), sa.column("province", sa.SmallInteger),
                   sa.column("claim_id", sa.Integer))
    update = (claim.update().where(claim.c.id == sa.bindparam("claim"))
              .values(**{p: sa.bindparam("new_" + p) for p in PARTS}))
    bind.execute(key.delete())  # all rewritten below, in this transaction
    last = 0
    while True:
        rows = bind.execute(sa.select(claim.c.id, claim.c.customer).where(claim.c.id > last)
                            .order_by(claim.c.id).limit(BATCH)).all()
        if not rows:
            return
        if index is None:
            raise RuntimeError("revision 0006 splits stored claims again and needs the claim-name rules: "
                               "migrate with `partnerbot db upgrade` (or any partnerbot command on SQLite)")
        changes, keys = [], []
        for claim_id, customer in rows:
            parts, province, lookup = index(customer)
            changes.append({"claim": claim_id, **{"new_" + p: v for p, v in zip(PARTS, parts)}})
            keys += [{"key": k, "province": province, "claim_id": claim_id} for k in lookup]
        bind.execute(update, changes)
        if keys:
            bind.execute(key.insert(), keys)
        last = rows[-1][0]


def downgrade() -> None:
    pass
