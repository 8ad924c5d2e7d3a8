"""Customer claims (报备), price/territory violations and rebate schemes."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

CLAIM_LIVE = ("pending", "approved")


class CustomerClaim(Base):
    __tablename__ = "customer_claim"
    __table_args__ = (
        Index("ix_customer_claim_phone", "phone"),
        Index("ix_customer_claim_uscc", "uscc"),
        Index("ix_customer_claim_status_expires", "status", "expires_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), index=True)
    customer: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), default="")
    brand_key: Mapped[str] = mapped_column(String(100), default="")
    region_key: Mapped[str] = mapped_column(String(100), default="")
    industry_key: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    uscc: Mapped[str | None] = mapped_column(String(18))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    conflict_with_id: Mapped[int | None] = mapped_column(ForeignKey("customer_claim.id"))
    conflict_reason: Mapped[str] = mapped_column(String(16), default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    extension_requested_at: Mapped[datetime | None]
    reminded_days: Mapped[int | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Written with the claim (services.claims_match.key_columns); never loaded through the claim.
    lookup_keys: Mapped[list[ClaimKey]] = relationship(
        lazy="raise", primaryjoin="CustomerClaim.id == foreign(ClaimKey.claim_id)")


class ClaimKey(Base):
    """A hashed blocking key of a claim's name (brand, its pinyin, its one-character deletions):
    candidates for a name conflict are the claims sharing a key, of the probe's province or none
    (services/claims_match.py). Derived
    data written only with its claim, like a search index: a rowid table with a covering index and no
    foreign key, so a bulk import appends rows without looking each claim up again and can build
    the index once."""

    __tablename__ = "claim_key"
    __table_args__ = (Index("ix_claim_key_key_province_claim", "key", "province", "claim_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[int] = mapped_column(BigInteger)
    province: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # the claim's province code, 0 for none
    claim_id: Mapped[int]


class ClaimLock(Base):
    """One row per lock bucket of claim keys; PostgreSQL writers of one customer lock the same rows."""

    __tablename__ = "claim_lock"
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class Violation(Base):
    """A sale below floor (price) or into someone else's customer/region (territory); the partner
    may appeal, a manager clears or upholds, an undo or a correction voids (services/violations.py)."""

    __tablename__ = "violation"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # price | claim | region
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id"), index=True)
    sale_line_id: Mapped[int | None] = mapped_column(ForeignKey("sale_line.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), index=True)
    level: Mapped[int] = mapped_column(default=1)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|appealed|cleared|upheld|voided
    appeal_reason: Mapped[str] = mapped_column(Text, default="")
    appealed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    appealed_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str] = mapped_column(Text, default="", server_default="")  # the decider's reason
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RebateScheme(Base):
    __tablename__ = "rebate_scheme"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[date]
    period_end: Mapped[date]
    basis: Mapped[str] = mapped_column(String(8))  # amount | qty
    mode: Mapped[str] = mapped_column(String(16))  # retroactive | marginal
    sku_group: Mapped[str] = mapped_column(String(50), default="")
    tiers: Mapped[list] = mapped_column(JSON)  # [[threshold (fen or units), rate in basis points]]
    partner_tiers: Mapped[str] = mapped_column(String(100), default="")
    cap_fen: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
