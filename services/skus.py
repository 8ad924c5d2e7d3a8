"""Admin writes on the catalog: new SKUs, their aliases and fields, each checked and audited.

Every function takes text as a person typed it (prices in yuan, full-width digits allowed),
raises InvalidInput naming the field and what is wrong, and returns the SKU as `SkuInfo`.
The matcher cache of the chat side must be invalidated by the caller after a write."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Sku, SkuAlias
from storage.uow import UnitOfWork

from . import audit, catalog
from .actors import Actor, require_role
from .catalog import SkuInfo
from .errors import InvalidInput
from .money import fen_to_yuan_str, yuan_to_fen

MAX_INT = 2**31 - 1
MAX_ALIAS = 100
# Settable field → the Sku column it writes.
FIELDS: dict[str, str] = {
    "name": "name", "unit": "unit", "pack_unit": "pack_unit", "pack_size": "pack_size",
    "guide_price": "guide_price_fen", "floor_price": "floor_price_fen", "safety_stock": "safety_stock",
    "group": "group_name", "active": "active",
}
LABELS = {"code": "编码", "name": "名称", "unit": "单位", "pack_unit": "箱单位", "pack_size": "箱规",
          "guide_price": "指导价", "floor_price": "最低价", "safety_stock": "安全库存", "group": "分组",
          "active": "启用"}
COLUMNS = ("name", "unit", "pack_unit", "pack_size", "guide_price_fen", "floor_price_fen", "safety_stock",
           "group_name", "active")
_TRUE = {"1", "true", "yes", "y", "on", "是", "启用", "有效", "开"}
_FALSE = {"0", "false", "no", "n", "off", "否", "停用", "禁用", "无效", "关"}


@dataclass(frozen=True)
class CatalogEntry:
    """A SKU as the admin list shows it: the SKU and whether it is active."""

    sku: SkuInfo
    active: bool


def fold(text: Any) -> str:
    """Width-folded, trimmed text."""
    return unicodedata.normalize("NFKC", str(text)).strip()


def _title(field: str) -> str:
    """`指导价(guide_price)`: how messages name a field."""
    return f"{LABELS[field]}({field})"


def _text(field: str, value: Any, *, max_len: int) -> str:
    """A required piece of text of at most `max_len` characters."""
    text = fold(value)
    if not text:
        raise InvalidInput(reason=f"{_title(field)}不能为空 (required)", field=field)
    if len(text) > max_len:
        raise InvalidInput(reason=f"{_title(field)}太长，最多 {max_len} 个字符 (too long)", field=field)
    return text


def _integer(field: str, value: Any, *, minimum: int) -> int:
    """A whole number at least `minimum`."""
    text = fold(value).replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise InvalidInput(reason=f"{_title(field)}须为整数，现在是「{value}」(must be a whole number)", field=field)
    if not minimum <= number <= MAX_INT:
        raise InvalidInput(reason=f"{_title(field)}须不小于 {minimum}，现在是「{value}」(must be at least {minimum})",
                           field=field)
    return int(number)


def _fen(field: str, value: Any) -> int:
    """A price in yuan as integer fen."""
    try:
        fen = yuan_to_fen(value if isinstance(value, (Decimal, int)) else fold(value))
    except InvalidInput as exc:
        raise InvalidInput(reason=f"{_title(field)}「{value}」不是有效金额：{exc.facts['reason']}", field=field) from None
    if fen > MAX_INT:
        raise InvalidInput(reason=f"{_title(field)}「{value}」金额过大 (too large)", field=field)
    return fen


def parse_active(value: Any, field: str = "active") -> bool:
    """Yes/no in Chinese or English (是/否, 启用/停用, yes/no, 1/0)."""
    if isinstance(value, bool):
        return value
    text = fold(value).lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise InvalidInput(reason=f"{_title(field)}须为 是/否 (yes/no)，现在是「{value}」", field=field)


def _value(field: str, value: Any) -> Any:
    """One settable field's value, read and checked on its own."""
    if field in ("guide_price", "floor_price"):
        return _fen(field, value)
    if field == "pack_size":
        return _integer(field, value, minimum=1)
    if field == "safety_stock":
        return _integer(field, value, minimum=0)
    if field == "active":
        return parse_active(value, field)
    if field == "group":
        return _text(field, value, max_len=50) if fold(value) else ""
    return _text(field, value, max_len=200 if field == "name" else 8)


def _consistency(sku: Sku) -> None:
    """Raises when fields disagree: floor above guide, or a pack that is its own unit."""
    problems = []
    if sku.floor_price_fen > sku.guide_price_fen:
        problems.append(f"最低价 {fen_to_yuan_str(sku.floor_price_fen)} 高于指导价 "
                        f"{fen_to_yuan_str(sku.guide_price_fen)} (floor above guide)")
    if sku.pack_unit == sku.unit and sku.pack_size != 1:
        problems.append(f"箱单位与单位都是「{sku.unit}」时箱规须为 1 (pack_unit equals unit)")
    if problems:
        raise InvalidInput(reason="；".join(problems))


_find = catalog.sku_row


async def _code_holder(session: AsyncSession, text: str) -> str | None:
    """The code of a SKU whose code is `text` ignoring case, if any."""
    return await session.scalar(select(Sku.code).where(func.lower(Sku.code) == text.lower()).limit(1))


async def _alias_holder(session: AsyncSession, alias: str) -> str | None:
    """The code of the SKU that has `alias` (ignoring case), if any."""
    stmt = (select(Sku.code).join(SkuAlias, SkuAlias.sku_id == Sku.id)
            .where(func.lower(SkuAlias.alias) == alias.lower()).limit(1))
    return await session.scalar(stmt)


def _snapshot(sku: Sku) -> dict:
    """The audited state of a SKU."""
    return {"code": sku.code, **audit.snapshot(sku, *COLUMNS), "aliases": [a.alias for a in sku.aliases]}


async def _flush(uow: UnitOfWork) -> None:
    """Flushes; losing a race for a unique code or alias is a clear error, not a crash."""
    try:
        await uow.flush()
    except IntegrityError:
        raise InvalidInput(reason="编码或别名刚被占用，请重试 (code or alias just taken; try again)") from None


async def _finish(uow: UnitOfWork, sku: Sku) -> SkuInfo:
    """Flushes, reads the SKU back as SkuInfo and commits."""
    await _flush(uow)
    info = await catalog.get_sku_by_code(uow, code=sku.code)
    await uow.commit()
    return info


async def add_sku(uow: UnitOfWork, *, actor: Actor, code: str, name: str, unit: str, pack_unit: str,
                  pack_size: int | str, guide_price: str | Decimal | int, floor_price: str | Decimal | int,
                  safety_stock: int | str = 0, group: str = "") -> SkuInfo:
    """Adds a SKU; its code must be new and must not be another SKU's alias."""
    require_role(actor, "admin")
    code = _text("code", code, max_len=32)
    if re.search(r"\s", code):
        raise InvalidInput(reason=f"编码「{code}」不能含空格 (no spaces in codes)", field="code")
    values = {"name": name, "unit": unit, "pack_unit": pack_unit, "pack_size": pack_size,
              "guide_price": guide_price, "floor_price": floor_price, "safety_stock": safety_stock, "group": group}
    row = Sku(code=code, active=True, aliases=[], **{FIELDS[f]: _value(f, v) for f, v in values.items()})
    _consistency(row)
    async with uow:
        session = uow.session
        held = await _code_holder(session, code)
        if held is not None:
            raise InvalidInput(reason=f"编码 {held} 已存在 (code exists)", field="code")
        owner = await _alias_holder(session, code)
        if owner is not None:
            raise InvalidInput(reason=f"编码「{code}」已是 {owner} 的别名 (code is an alias of {owner})", field="code")
        row.created_at = uow.now()
        uow.add(row)
        await _flush(uow)
        audit.record(uow, actor=actor, action="sku.create", entity="sku", entity_id=row.id, after=_snapshot(row))
        return await _finish(uow, row)


async def set_sku_fields(uow: UnitOfWork, *, actor: Actor, code: str, values: Mapping[str, Any]) -> SkuInfo:
    """Changes several fields of one SKU at once (checked together); audits what changed."""
    require_role(actor, "admin")
    unknown = [f for f in values if f not in FIELDS]
    if unknown or not values:
        valid = ", ".join(FIELDS)
        raise InvalidInput(reason=f"未知字段「{'、'.join(unknown) or '（无）'}」，可改：{valid} (unknown field)")
    parsed = {FIELDS[f]: _value(f, v) for f, v in values.items()}
    async with uow:
        sku = await _find(uow.session, code)
        before = {c: getattr(sku, c) for c, v in parsed.items() if getattr(sku, c) != v}
        for column, value in parsed.items():
            setattr(sku, column, value)
        _consistency(sku)
        if not before:
            return await catalog.get_sku_by_code(uow, code=sku.code)
        audit.record(uow, actor=actor, action="sku.update", entity="sku", entity_id=sku.id,
                     before={"code": sku.code, **before},
                     after={"code": sku.code, **{c: getattr(sku, c) for c in before}})
        return await _finish(uow, sku)


async def set_sku_field(uow: UnitOfWork, *, actor: Actor, code: str, field: str, value: Any) -> SkuInfo:
    """Changes one field: name, unit, pack_unit, pack_size, guide_price, floor_price, safety_stock, group, active."""
    return await set_sku_fields(uow, actor=actor, code=code, values={field: value})


def _clean_aliases(aliases: Iterable[str]) -> list[str]:
    """Folded, non-blank aliases without repeats (ignoring case), in the order given."""
    out: dict[str, str] = {}
    for alias in aliases:
        text = fold(alias)
        if text:
            out.setdefault(text.casefold(), text)
    return list(out.values())


async def change_aliases(uow: UnitOfWork, *, actor: Actor, code: str, add: Iterable[str] = (),
                         remove: Iterable[str] = ()) -> SkuInfo:
    """Adds and removes aliases of one SKU in one go; every problem is named, nothing half-done."""
    require_role(actor, "admin")
    remove = _clean_aliases(remove)
    dropped = {a.casefold() for a in remove}
    add = [a for a in _clean_aliases(add) if a.casefold() not in dropped]
    if not add and not remove:
        raise InvalidInput(reason="请给出别名 (give an alias)")
    async with uow:
        session = uow.session
        sku = await _find(session, code)
        mine = {a.alias.casefold(): a for a in sku.aliases}
        old = [a.alias for a in sku.aliases]
        problems: list[str] = []
        for alias in remove:
            if alias.casefold() not in mine:
                problems.append(f"{sku.code} 没有别名「{alias}」(no such alias)")
        for alias in add:
            if alias.casefold() in mine:
                continue
            if len(alias) > MAX_ALIAS:
                problems.append(f"别名「{alias[:20]}…」太长，最多 {MAX_ALIAS} 个字符 (too long)")
            elif alias.casefold() == sku.code.casefold():
                problems.append(f"别名「{alias}」就是 {sku.code} 的编码 (alias equals its own code)")
            elif (other := await _code_holder(session, alias)) is not None:
                problems.append(f"别名「{alias}」与另一个 SKU 的编码 {other} 相同 (alias equals a code)")
            elif (owner := await _alias_holder(session, alias)) is not None:
                problems.append(f"别名「{alias}」已属于 {owner} (alias already used by {owner})")
        if problems:
            raise InvalidInput(reason="；".join(problems))
        for alias in remove:
            sku.aliases.remove(mine.pop(alias.casefold()))
        for alias in add:
            if alias.casefold() not in mine:
                sku.aliases.append(SkuAlias(alias=alias))
        new = [a.alias for a in sku.aliases]
        if new == old:
            return await catalog.get_sku_by_code(uow, code=sku.code)
        audit.record(uow, actor=actor, action="sku.aliases", entity="sku", entity_id=sku.id,
                     before={"code": sku.code, "aliases": old}, after={"code": sku.code, "aliases": new})
        return await _finish(uow, sku)


async def add_alias(uow: UnitOfWork, *, actor: Actor, code: str, alias: str) -> SkuInfo:
    """Gives a SKU one more alias (unique across SKUs, never another SKU's code)."""
    return await change_aliases(uow, actor=actor, code=code, add=[alias])


async def remove_alias(uow: UnitOfWork, *, actor: Actor, code: str, alias: str) -> SkuInfo:
    """Takes an alias away from a SKU."""
    return await change_aliases(uow, actor=actor, code=code, remove=[alias])


def _matches(sku: SkuInfo, needle: str) -> bool:
    """Whether the keyword appears in the code, name, group or an alias (ignoring width and case)."""
    return any(needle in fold(text).casefold() for text in (sku.code, sku.name, sku.group, *sku.aliases))


async def list_catalog(uow: UnitOfWork, *, actor: Actor, keyword: str | None = None) -> list[CatalogEntry]:
    """Every SKU, inactive ones too, by code; a keyword narrows it (managers and admins)."""
    require_role(actor, "manager")
    needle = fold(keyword or "").casefold()
    async with uow.reading() as reader:
        skus = await catalog.list_skus(reader, include_inactive=True)
        inactive = set((await reader.session.scalars(select(Sku.code).where(Sku.active.is_(False)))).all())
    return [CatalogEntry(sku=s, active=s.code not in inactive) for s in skus if not needle or _matches(s, needle)]
