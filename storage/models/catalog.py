"""What is sold: SKUs, their aliases, price policies and safety-stock overrides."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow


class Sku(Base):
    __tablename__ = "sku"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(8))
    pack_unit: Mapped[str] = mapped_column(String(8))
    pack_size: Mapped[int] = mapped_column(default=1)
    guide_price_fen: Mapped[int] = mapped_column(default=0)
    floor_price_fen: Mapped[int] = mapped_column(default=0)
    safety_stock: Mapped[int] = mapped_column(default=0)
    group_name: Mapped[str] = mapped_column(String(50), default="", index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    aliases: Mapped[list[SkuAlias]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class SkuAlias(Base):
    __tablename__ = "sku_alias"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("sku.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(100), unique=True)


class PricePolicy(Base):
    """Guide and floor price (per base unit) in force from a date, optionally per tier/region.
    Rows are never changed: a new version is a new row (services/price_admin.py)."""

    __tablename__ = "price_policy"
    __table_args__ = (Index("ix_price_policy_sku_effective", "sku_id", "effective_from"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("sku.id"))
    tier: Mapped[str] = mapped_column(String(16), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    guide_price_fen: Mapped[int]
    floor_price_fen: Mapped[int]
    effective_from: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SafetyStockOverride(Base):
    """Safety stock for a SKU per tier or per partner (partner wins over tier)."""

    __tablename__ = "safety_stock_override"
    __table_args__ = (UniqueConstraint("sku_id", "tier", "partner_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("sku.id"))
    tier: Mapped[str] = mapped_column(String(16), default="")
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    qty: Mapped[int]
