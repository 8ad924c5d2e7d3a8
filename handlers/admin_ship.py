"""`/ship PARTNER SKU QTY [date] [ref]`: records one shipment (sell-in) from chat, for admins and
for managers to the partners of their regions."""
from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal

from services import catalog, shipments
from services.catalog import SkuInfo, format_qty
from services.errors import InvalidInput
from services.shipments import ShipmentIn, ShipmentRowResult

from .context import Ctx
from .messages import Reply
from .parsing.dates import find_dates
from .parsing.numbers import CN_DIGITS, to_decimal
from .slash import command

USAGE = "/ship 经销商编码 商品编码 数量 [日期] [单号]，如 /ship P001 A100 20箱 2026-11-15 DN1115-01"
_PART = re.compile(rf"(\d+(?:\.\d+)?|[{CN_DIGITS}]+)\s*([^\d.{CN_DIGITS}\s]*)")

ship_cmd = command(
    "ship",
    help_zh="/ship 经销商编码 商品编码 数量 [日期] [单号] —— 记录一笔发货（进货）\n"
            "    例：/ship P001 A100 20箱 2026-11-15 DN1115-01\n"
            "    数量：20箱、480（按最小单位）、8箱5瓶；日期：2026-11-15、今天、昨天（不写为今天）\n"
            "    有单号的发货只记一次：同一单号再发一遍回复「已存在（单号重复）」，内容不同则拒绝。\n"
            "    渠道经理可给辖区内的经销商发货。批量发货请用文件导入（import shipments）或接口。",
    help_en="/ship PARTNER SKU QTY [DATE] [REF] — record one shipment (sell-in)\n"
            "    e.g. /ship P001 A100 20箱 2026-11-15 DN1115-01\n"
            "    QTY: 20箱, 480 (base units), 8箱5瓶; DATE: 2026-11-15, today, yesterday (default today)\n"
            "    A shipment with a REF is recorded once: the same REF again answers \"already recorded\", "
            "different content is refused.\n"
            "    Managers may ship to the partners of their regions. For many rows use the import or the API.",
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def parse_quantity(text: str) -> list[tuple[Decimal, str | None]]:
    """`8箱5瓶` → [(8, "箱"), (5, "瓶")]; `480` → [(480, None)]; InvalidInput when it is no quantity."""
    parts, pos = [], 0
    for m in _PART.finditer(text):
        number = to_decimal(m.group(1)) if m.start() == pos else None
        if number is None:
            break
        parts.append((number, m.group(2) or None))
        pos = m.end()
    if not parts or pos != len(text):
        raise InvalidInput(reason=f"数量「{text}」看不懂，请写成 20箱、480 或 8箱5瓶 (quantity like 20箱, 480, 8箱5瓶)")
    return parts


def _shipment_qty(text: str, sku: SkuInfo) -> tuple[Decimal, str | None]:
    """The quantity as one (number, unit) pair; several parts are added up in base units."""
    parts = parse_quantity(text)
    if len(parts) == 1:
        return parts[0]
    return Decimal(sum(shipments.base_quantity(n, u, sku) for n, u in parts)), sku.unit


def _date_and_ref(tokens: list[str], today: date) -> tuple[date | None, str | None]:
    """The optional date (2026-11-15, 今天, 昨天, 11.15 …) and ref, in either order."""
    shipped_on = ref = None
    for token in tokens:
        found = find_dates(token, today) if shipped_on is None else []
        whole = [d for d in found if d.start == 0 and d.end == len(token)]
        if whole:
            if whole[0].value is None:
                raise InvalidInput(reason=f"日期「{token}」不存在 (no such date)")
            shipped_on = whole[0].value
        elif ref is None:
            ref = token
        else:
            raise InvalidInput(reason=f"多余的「{token}」。{USAGE}")
    return shipped_on, ref


def _line(res: ShipmentRowResult, partner: catalog.PartnerInfo, sku: SkuInfo, en: bool) -> str:
    """`#12 P001 南京冰泉… · A100 冰泉矿泉水550ml 20箱 · 2026-11-15 · 单号 DN1`."""
    ref = f" · {'ref' if en else '单号'} {res.ref}" if res.ref else ""
    return (f"#{res.id} {partner.code} {partner.name} · {sku.code} {sku.name} {format_qty(res.qty, sku)}"
            f" · {res.shipped_on.isoformat()}{ref}")


async def ship(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Records one shipment and answers with what was recorded, in packs, or that the ref is known."""
    args = [_fold(a) for a in args if _fold(a)]
    if len(args) < 3:
        raise InvalidInput(reason=USAGE)
    partner_code, sku_code, qty_text, *rest = args
    uow = ctx.uow()
    today = uow.now().astimezone(ctx.deps.settings.tz).date()
    shipped_on, ref = _date_and_ref(rest, today)
    sku = await catalog.get_sku_by_code(uow, code=sku_code)
    qty, unit = _shipment_qty(qty_text, sku)
    row = ShipmentIn(partner=partner_code, sku=sku.code, qty=qty, unit=unit, shipped_on=shipped_on, ref=ref)
    [res] = await shipments.record_shipments(uow, actor=ctx.actor, rows=[row], source="admin")
    partner = await catalog.get_partner(uow, actor=ctx.actor, code=res.partner)
    en = ctx.locale.startswith("en")
    line = _line(res, partner, sku, en)
    if res.status == "duplicate":
        text = (f"Already recorded (duplicate ref), nothing added: {line}" if en
                else f"已存在（单号重复），未重复记录：{line}")
    else:
        text = f"Shipment recorded: {line}" if en else f"已记录发货：{line}"
    return [Reply(text)]


ship_cmd.fallback = (ship, ("manager",))
