"""Goods moving through the channel: sell-in (shipments), stocktakes, sell-out (sales)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow


class Shipment(Base):
    __tablename__ = "shipment"
    __table_args__ = (Index("ix_shipment_partner_sku_on", "partner_id", "sku_id", "shipped_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("sku.id"))
    qty: Mapped[int]
    shipped_on: Mapped[date]
    ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="admin")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Stocktake(Base):
    __tablename__ = "stocktake"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), index=True)
    counted_at: Mapped[datetime]
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lines: Mapped[list[StocktakeLine]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class StocktakeLine(Base):
    __tablename__ = "stocktake_line"
    __table_args__ = (Index("ix_stocktake_line_sku", "sku_id", "stocktake_id"),
                      Index("ix_stocktake_line_stocktake", "stocktake_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktake.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("sku.id"))
    qty: Mapped[int]


class Sale(Base):
    """A sell-out report: one customer, one date, one or more lines."""

    __tablename__ = "sale"
    __table_args__ = (Index("ix_sale_partner_sold_on", "partner_id", "sold_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    customer: Mapped[str] = mapped_column(String(200))
    sold_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default="confirmed")  # confirmed | undone
    flags: Mapped[list] = mapped_column(JSON, default=list)
    channel: Mapped[str] = mapped_column(String(16), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]
    lines: Mapped[list[SaleLine]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class SaleLine(Base):
    __tablename__ = "sale_line"
    __table_args__ = (Index("ix_sale_line_sku", "sku_id", "sale_id", "qty"),
                      Index("ix_sale_line_sale", "sale_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("sku.id"))
    qty: Mapped[int]
    amount_fen: Mapped[int]
