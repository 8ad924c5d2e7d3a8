"""The HTTP API for ERP integration (DESIGN §8.7): shipments in, inventory and sales out, under
/api/v1 with bearer API keys from `[api] keys`. OpenAPI at /docs and /openapi.json.

The API acts as an admin-like system actor. Every error answers JSON `{"detail": …}`: 401 for a
missing or wrong key, 422 for a malformed body (FastAPI names the field in `detail[].loc`) or
for shipments with bad rows (`detail` plus one entry per bad row in `errors`; nothing is written).
"""
from __future__ import annotations

import hmac
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from services import inventory, sales_feed, shipments
from services.actors import Actor
from services.errors import DomainError, NotAllowed, NotFound
from services.shipments import ShipmentIn, ShipmentsRejected

from .web import runtime_of

API_ACTOR = Actor(user_id=None, name="api", role="system", channel="api")
MAX_ROWS = 10_000
_bearer = HTTPBearer(auto_error=False, description="An API key from `[api] keys` (PARTNERBOT_API__KEYS).")


def require_key(request: Request,
                credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Accepts a request whose bearer token equals one of the configured keys (constant-time compare)."""
    keys = runtime_of(request).settings.api.keys
    given = (credentials.credentials if credentials else "").encode()
    matched = False
    for key in keys:  # every key is compared, so timing does not tell which one nearly matched
        matched |= bool(key) and hmac.compare_digest(given, key.encode())
    if not matched:
        detail = "invalid API key" if credentials else "missing API key: send Authorization: Bearer <key>"
        raise HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


class Problem(BaseModel):
    detail: str


class ShipmentItem(BaseModel):
    """One shipment: quantity in `unit` (the SKU's base unit when empty, or its pack: 箱/件/case…)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"partner": "P001", "sku": "A100", "qty": 20, "unit": "箱", "shipped_on": "2026-11-15", "ref": "DN1115-01"}]})
    partner: str = Field(min_length=1, max_length=32, description="partner code")
    sku: str = Field(min_length=1, max_length=32, description="SKU code")
    qty: Decimal = Field(gt=0, description="a whole number of base units once converted (2.5 箱 of 24 is fine)")
    unit: str | None = Field(None, max_length=16, description="base unit (瓶) or pack (箱); empty = base unit")
    shipped_on: date = Field(description="local business date, not after today")
    ref: str | None = Field(None, max_length=64, description="delivery-note number; makes the row idempotent")


class ShipmentBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shipments: list[ShipmentItem] = Field(min_length=1, max_length=MAX_ROWS)


class RowResult(BaseModel):
    index: int = Field(description="position of the row in `shipments`, from 0")
    status: Literal["created", "duplicate", "error"]
    id: int | None = Field(None, description="the stored shipment (for a duplicate: the one stored earlier)")
    error: str | None = None


class ShipmentsAnswer(BaseModel):
    created: int
    duplicates: int
    results: list[RowResult]


class ShipmentsRefused(BaseModel):
    detail: str
    errors: list[RowResult]


class InventoryLine(BaseModel):
    partner: str
    sku: str
    on_hand: int | None = Field(description="base units; null when nothing is known (no count, no shipment)")
    unit: str
    safety_stock: int
    days_of_cover: float | None = Field(description="at the trailing 28-day sales rate; null without sales")
    reorder_qty: int = Field(description="suggested order in base units, whole packs")
    status: Literal["ok", "low", "out", "unknown"]


class InventoryAnswer(BaseModel):
    positions: list[InventoryLine]


class SaleLineOut(BaseModel):
    id: int = Field(description="the sale line")
    sale_id: int
    partner: str
    sku: str
    qty: int = Field(description="base units")
    unit: str
    amount: str = Field(description="line total in yuan, two decimals, e.g. \"560.00\"")
    customer: str
    sold_on: date
    status: Literal["confirmed", "undone"]
    flags: list[str]


class SalesAnswer(BaseModel):
    lines: list[SaleLineOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last page")


router = APIRouter(prefix="/api/v1", tags=["erp"], dependencies=[Depends(require_key)],
                   responses={401: {"model": Problem, "description": "missing or invalid API key"}})


def _domain_error(exc: DomainError) -> HTTPException:
    """A domain error as an HTTP error that says what was wrong."""
    if isinstance(exc, NotFound):
        return HTTPException(404, detail=f"unknown {exc.facts.get('what', '')} {exc.facts.get('key', '')}".strip())
    if isinstance(exc, NotAllowed):
        return HTTPException(403, detail="not allowed")
    return HTTPException(422, detail=exc.facts.get("reason") or exc.code)


def _row(r: shipments.ShipmentRowResult) -> RowResult:
    return RowResult(index=r.index, status=r.status, id=r.id, error=r.error)


@router.post("/shipments", response_model=ShipmentsAnswer,
             responses={422: {"model": ShipmentsRefused,
                              "description": "bad rows (nothing written), or a malformed body (FastAPI's shape)"}})
async def post_shipments(batch: ShipmentBatch, request: Request):
    """Records shipments (sell-in), all rows or none. A row whose `ref` is already stored with the same
    content is a `duplicate` (not an error, nothing new); the same `ref` with other content is an error."""
    rows = [ShipmentIn(partner=s.partner, sku=s.sku, qty=s.qty, unit=s.unit, shipped_on=s.shipped_on, ref=s.ref)
            for s in batch.shipments]
    try:
        results = await shipments.record_shipments(runtime_of(request).uow(), actor=API_ACTOR, rows=rows, source="api")
    except ShipmentsRejected as exc:
        body = ShipmentsRefused(detail=f"{len(exc.errors)} of {exc.total} rows rejected; nothing was recorded",
                                errors=[_row(r) for r in exc.errors])
        return JSONResponse(body.model_dump(mode="json"), status_code=422)
    except DomainError as exc:
        raise _domain_error(exc) from None
    created = sum(r.status == "created" for r in results)
    return ShipmentsAnswer(created=created, duplicates=len(results) - created, results=[_row(r) for r in results])


@router.get("/inventory", response_model=InventoryAnswer,
            responses={404: {"model": Problem, "description": "unknown partner or SKU"}})
async def get_inventory(request: Request, partner: str | None = Query(None, description="partner code"),
                        sku: str | None = Query(None, description="SKU code")):
    """Channel inventory per partner and SKU, low items first (out, low, ok, unknown)."""
    try:
        found = await inventory.positions(runtime_of(request).uow(), actor=API_ACTOR, partner_code=partner,
                                          sku_code=sku)
    except DomainError as exc:
        raise _domain_error(exc) from None
    return InventoryAnswer(positions=[
        InventoryLine(partner=p.partner_code, sku=p.sku_code, on_hand=p.on_hand, unit=p.unit,
                      safety_stock=p.safety_stock, reorder_qty=p.reorder_qty,
                      days_of_cover=None if p.days_of_cover is None else float(p.days_of_cover),
                      status=p.status) for p in found])


@router.get("/sales", response_model=SalesAnswer,
            responses={404: {"model": Problem, "description": "unknown partner"},
                       422: {"model": Problem, "description": "bad dates"}})
async def get_sales(request: Request,
                    date_from: date | None = Query(None, alias="from", description="first sold_on day, inclusive"),
                    date_to: date | None = Query(None, alias="to", description="last sold_on day, inclusive"),
                    partner: str | None = Query(None, description="partner code"),
                    after: int | None = Query(None, ge=0, description="`next_after` of the previous page"),
                    limit: int = Query(1000, ge=1, le=10_000)):
    """Sale lines (sell-out) by line id, amounts in yuan as strings; pages with `after`/`next_after`."""
    try:
        page = await sales_feed.sale_lines(runtime_of(request).uow(), actor=API_ACTOR, date_from=date_from,
                                           date_to=date_to, partner_code=partner, after=after, limit=limit)
    except DomainError as exc:
        raise _domain_error(exc) from None
    return SalesAnswer(next_after=page.next_after, lines=[
        SaleLineOut(id=ln.id, sale_id=ln.sale_id, partner=ln.partner, sku=ln.sku, qty=ln.qty, unit=ln.unit,
                    amount=str(Decimal(ln.amount_fen).scaleb(-2)), customer=ln.customer, sold_on=ln.sold_on,
                    status=ln.status, flags=list(ln.flags)) for ln in page.lines])
