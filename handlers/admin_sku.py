"""`/sku add|alias|set|list|show` for admins (list and show for managers too)."""
from __future__ import annotations

import re
import unicodedata

from services import skus
from services.catalog import SkuInfo
from services.errors import InvalidInput, NotFound
from services.money import fen_to_yuan_str

from .catalog_cache import MATCHERS
from .context import Ctx
from .messages import Reply
from .slash import command

LIST_LIMIT = 50
ADD_USAGE = "/sku add 编码 名称 单位 箱单位 箱规 指导价 最低价 [安全库存] [分组]"
FIELD_WORDS = {
    "name": "name", "名称": "name", "品名": "name",
    "unit": "unit", "单位": "unit",
    "pack_unit": "pack_unit", "箱单位": "pack_unit", "包装单位": "pack_unit",
    "pack_size": "pack_size", "箱规": "pack_size",
    "guide_price": "guide_price", "guide": "guide_price", "指导价": "guide_price",
    "floor_price": "floor_price", "floor": "floor_price", "最低价": "floor_price", "底价": "floor_price",
    "safety_stock": "safety_stock", "安全库存": "safety_stock",
    "group": "group", "分组": "group",
    "active": "active", "启用": "active", "状态": "active",
}
_SPLIT_ALIASES = re.compile(r"[;；,，、]")

sku_cmd = command(
    "sku",
    help_zh=f"{ADD_USAGE}\n    例：/sku add A300 冰泉苏打水 瓶 箱 24 2.50 2.20 480 饮料（价格为每单位的元）\n"
            "/sku alias 编码 别名… —— 添加别名；/sku alias 编码 -别名 —— 删除别名\n"
            "/sku set 编码 字段=值 … —— 修改，字段：名称 单位 箱单位 箱规 指导价 最低价 安全库存 分组 启用(是/否)\n"
            "    例：/sku set A100 指导价=1.30 最低价=1.15\n"
            "/sku list [关键词] —— 商品列表（渠道经理可用）\n/sku show 编码 —— 商品详情",
    help_en="/sku add CODE NAME UNIT PACK_UNIT PACK_SIZE GUIDE FLOOR [SAFETY_STOCK] [GROUP]\n"
            "    e.g. /sku add A300 冰泉苏打水 瓶 箱 24 2.50 2.20 480 饮料 (prices in yuan per unit)\n"
            "/sku alias CODE ALIAS… — add aliases; /sku alias CODE -ALIAS — remove one\n"
            "/sku set CODE field=value … — fields: name unit pack_unit pack_size guide_price floor_price "
            "safety_stock group active(yes/no)\n    e.g. /sku set A100 guide_price=1.30 floor_price=1.15\n"
            "/sku list [KEYWORD] — the catalog (managers too)\n/sku show CODE — one SKU",
)


def _en(ctx: Ctx) -> bool:
    return ctx.locale.startswith("en")


def pack_text(sku: SkuInfo) -> str:
    """`24瓶/箱`, or just the unit when there is no pack."""
    if sku.pack_size <= 1 or sku.pack_unit == sku.unit:
        return sku.unit
    return f"{sku.pack_size}{sku.unit}/{sku.pack_unit}"


def _line(sku: SkuInfo, en: bool, active: bool = True) -> str:
    """`A100 冰泉矿泉水550ml · 24瓶/箱 · 指导¥1.25 最低¥1.10`."""
    guide, floor = fen_to_yuan_str(sku.guide_price_fen), fen_to_yuan_str(sku.floor_price_fen)
    prices = f"guide {guide} floor {floor}" if en else f"指导{guide} 最低{floor}"
    off = "" if active else (" · inactive" if en else " · 已停用")
    return f"{sku.code} {sku.name} · {pack_text(sku)} · {prices}{off}"


def _details(sku: SkuInfo, en: bool, active: bool = True) -> str:
    """The line plus aliases, safety stock and group."""
    aliases = "、".join(sku.aliases) or "-"
    if en:
        extra = f"aliases: {aliases}\nsafety stock: {sku.safety_stock}{sku.unit}\ngroup: {sku.group or '-'}"
    else:
        extra = f"别名：{aliases}\n安全库存：{sku.safety_stock}{sku.unit}\n分组：{sku.group or '-'}"
    return f"{_line(sku, en, active)}\n{extra}"


def _done(ctx: Ctx, zh: str, en: str, sku: SkuInfo, active: bool = True) -> list[Reply]:
    """Forgets the cached matcher (the catalog changed) and answers with the SKU."""
    MATCHERS.invalidate()
    return [Reply(f"{en if _en(ctx) else zh}\n{_details(sku, _en(ctx), active)}")]


@sku_cmd.sub("add")
async def sku_add(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Adds a SKU from positional fields."""
    if not 7 <= len(args) <= 9:
        raise InvalidInput(reason=f"{ADD_USAGE}（名称中不要有空格）")
    code, name, unit, pack_unit, pack_size, guide, floor = args[:7]
    info = await skus.add_sku(ctx.uow(), actor=ctx.actor, code=code, name=name, unit=unit, pack_unit=pack_unit,
                              pack_size=pack_size, guide_price=guide, floor_price=floor,
                              safety_stock=args[7] if len(args) > 7 else 0, group=args[8] if len(args) > 8 else "")
    return _done(ctx, "已添加商品：", "SKU added:", info)


@sku_cmd.sub("alias")
async def sku_alias(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Adds aliases; `-别名` removes one."""
    if len(args) < 2:
        raise InvalidInput(reason="/sku alias 编码 别名…（删除：/sku alias 编码 -别名）")
    add, remove = [], []
    for token in args[1:]:
        token = unicodedata.normalize("NFKC", token)
        target = remove if token.startswith("-") else add
        target += [a for a in _SPLIT_ALIASES.split(token.lstrip("-")) if a.strip()]
    info = await skus.change_aliases(ctx.uow(), actor=ctx.actor, code=args[0], add=add, remove=remove)
    return _done(ctx, "别名已更新：", "Aliases updated:", info)


def parse_assignments(tokens: list[str]) -> dict[str, str]:
    """`指导价=1.30 name=冰泉 矿泉水` → {"guide_price": "1.30", "name": "冰泉 矿泉水"}; words without `=`
    continue the previous value, so names may contain spaces."""
    values: dict[str, str] = {}
    last = None
    for token in tokens:
        token = unicodedata.normalize("NFKC", token)
        key, sep, value = token.partition("=")
        if not sep:
            key, colon, rest = token.partition(":")
            if colon and key.strip().lower() in FIELD_WORDS:  # 指导价：1.30
                sep, value = colon, rest
        if sep:
            field = FIELD_WORDS.get(key.strip().lower())
            if field is None:
                raise InvalidInput(reason=f"未知字段「{key}」，可改：名称 单位 箱单位 箱规 指导价 最低价 安全库存 分组 启用"
                                          f" (fields: {', '.join(skus.FIELDS)})")
            values[field], last = value.strip(), field
        elif last is not None:
            values[last] = f"{values[last]} {token}".strip()
        else:
            raise InvalidInput(reason=f"「{token}」应写成 字段=值，如 指导价=1.30 (field=value)")
    return values


@sku_cmd.sub("set")
async def sku_set(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Changes fields of a SKU, all together."""
    if len(args) < 2:
        raise InvalidInput(reason="/sku set 编码 字段=值 …，如 /sku set A100 指导价=1.30")
    values = parse_assignments(args[1:])
    info = await skus.set_sku_fields(ctx.uow(), actor=ctx.actor, code=args[0], values=values)
    active = skus.parse_active(values["active"]) if "active" in values else True
    return _done(ctx, "已修改：", "Updated:", info, active)


@sku_cmd.sub("list", roles=("manager",))
async def sku_list(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Lists the catalog, optionally narrowed by a keyword."""
    entries = await skus.list_catalog(ctx.uow(), actor=ctx.actor, keyword=" ".join(args) or None)
    en = _en(ctx)
    if not entries:
        return [Reply("(no SKUs found)" if en else "（没有找到商品）")]
    lines = [_line(e.sku, en, e.active) for e in entries[:LIST_LIMIT]]
    if len(entries) > LIST_LIMIT:
        more = len(entries) - LIST_LIMIT
        lines.append(f"… {more} more; add a keyword to narrow" if en else f"……还有 {more} 个，请加关键词筛选")
    return [Reply("\n".join(lines))]


@sku_cmd.sub("show", roles=("manager",))
async def sku_show(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Shows one SKU with its aliases."""
    if not args:
        raise InvalidInput(reason="/sku show 编码")
    code = unicodedata.normalize("NFKC", args[0]).strip().casefold()
    entries = await skus.list_catalog(ctx.uow(), actor=ctx.actor, keyword=args[0])
    found = [e for e in entries if e.sku.code.casefold() == code]
    if not found:
        raise NotFound(what="sku", key=args[0])
    return [Reply(_details(found[0].sku, _en(ctx), found[0].active))]
