"""`/price set|list|history` — price policies (set: admins; list and history: managers too)."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

from services import price_admin
from services.errors import InvalidInput
from services.money import fen_to_yuan_str

from .context import Ctx
from .messages import Reply
from .slash import command

SET_USAGE = "/price set 商品 指导价 最低价 [tier=A] [region=江苏] [from=2026-12-01]"
LIST_LIMIT = 60
KEYS = {"tier": "tier", "等级": "tier", "级别": "tier", "region": "region", "区域": "region", "地区": "region",
        "from": "from", "生效": "from", "生效日期": "from", "起": "from", "effective": "from", "effective_from": "from"}
STATES = {"in_force": ("执行中", "in force"), "scheduled": ("待生效", "scheduled"),
          "superseded": ("已被替代", "superseded"), "default": ("商品默认价", "SKU default")}
_DATE = re.compile(r"(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?")

price_cmd = command(
    "price",
    help_zh=f"{SET_USAGE}\n    设置一个价格版本（元/最小单位）；不写等级、区域即适用全部，不写日期即今天起。\n"
            "    例：/price set A100 1.30 1.15 region=江苏 from=2026-12-01\n"
            "/price list [商品] —— 今天执行的价格和待生效的版本（渠道经理可用）\n"
            "/price history 商品 —— 全部版本、设置人和状态（渠道经理可用）\n"
            "同一商品多条价格同时适用时：等级+区域 > 区域（越细越优先） > 等级 > 全国；同一范围取生效日期最近的版本。",
    help_en=f"/price set SKU GUIDE FLOOR [tier=A] [region=江苏] [from=2026-12-01]\n"
            "    a price version in yuan per base unit; no tier/region = all, no date = from today\n"
            "/price list [SKU] — prices in force today and scheduled versions (managers too)\n"
            "/price history SKU — every version, who set it, its state (managers too)\n"
            "Precedence: tier+region > region (longer first) > tier > all; within a scope the latest effective date.",
)


def _en(ctx: Ctx) -> bool:
    return ctx.locale.startswith("en")


def _today(ctx: Ctx) -> date:
    return ctx.uow().now().astimezone(ctx.deps.settings.tz).date()


def parse_day(text: str, today: date) -> date:
    """`2026-12-01`, `2026/12/1`, `20261201`, `2026年12月1日`, 今天/明天/today/tomorrow."""
    word = text.strip().lower()
    if word in ("今天", "today"):
        return today
    if word in ("明天", "tomorrow"):
        return today + timedelta(days=1)
    m = _DATE.fullmatch(word)
    if m:
        try:
            return date(*(int(g) for g in m.groups()))
        except ValueError:
            pass
    raise InvalidInput(reason=f"「{text}」不是日期，请写成 2026-12-01 (not a date)")


def parse_set(args: list[str], today: date) -> dict:
    """`A100 1.30 1.15 tier=A 区域=江苏 from=2026-12-01` → keyword arguments of `set_policy`."""
    positional, options = [], {}
    for token in args:
        token = unicodedata.normalize("NFKC", token)
        key, sep, value = token.partition("=")
        if sep:
            name = KEYS.get(key.strip().lower())
            if name is None or not value.strip():
                raise InvalidInput(reason=f"「{token}」看不懂，可写 tier=A region=江苏 from=2026-12-01。用法：{SET_USAGE}")
            options[name] = value.strip()
        else:
            positional.append(token)
    if len(positional) != 3:
        raise InvalidInput(reason=f"用法：{SET_USAGE}")
    sku, guide, floor = positional
    out = {"sku": sku, "guide": guide, "floor": floor, "tier": options.get("tier", ""),
           "region": options.get("region", "")}
    if "from" in options:
        out["effective_from"] = parse_day(options["from"], today)
    return out


def scope_text(p, en: bool) -> str:
    """`A级·江苏`, or `全国` for every partner."""
    parts = [f"tier {p.tier}" if en else f"{p.tier}级"] if p.tier else []
    parts += [p.region] if p.region else []
    return "·".join(parts) or ("all" if en else "全国")


def policy_line(p, en: bool, *, with_state: bool = True, who: bool = False) -> str:
    """`全国 · 指导 ¥1.30 最低 ¥1.15 · 2026-12-01 起 #5 · 待生效`."""
    prices = (f"guide {fen_to_yuan_str(p.guide_fen)} floor {fen_to_yuan_str(p.floor_fen)}" if en else
              f"指导 {fen_to_yuan_str(p.guide_fen)} 最低 {fen_to_yuan_str(p.floor_fen)}")
    parts = [scope_text(p, en), prices]
    if p.effective_from:
        parts.append(f"from {p.effective_from} #{p.id}" if en else f"{p.effective_from} 起 #{p.id}")
    if with_state:
        parts.append(STATES[p.state][1 if en else 0])
    if who and p.created_at:
        parts.append(f"{p.created_by or '-'} {p.created_at.strftime('%Y-%m-%d')}")
    return " · ".join(parts)


@price_cmd.sub("set")
async def price_set(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Sets a price version."""
    kwargs = parse_set(args, _today(ctx))
    info, status = await price_admin.set_policy(ctx.uow(), actor=ctx.actor, **kwargs)
    en = _en(ctx)
    head = {"created": ("已设置价格", "Price set"), "updated": ("已设置新版本（替代同日的旧版本）", "New version set"),
            "unchanged": ("价格未变（已有相同版本）", "Unchanged (the same version exists)")}[status][1 if en else 0]
    return [Reply(f"{head}：{info.sku} {info.sku_name}（{'yuan/' if en else '元/'}{info.unit}）\n"
                  f"{policy_line(info, en)}")]


def _grouped(rows, en: bool, line) -> str:
    out, last = [], None
    for p in rows:
        if p.sku != last:
            out.append(f"{p.sku} {p.sku_name}（{'yuan/' if en else '元/'}{p.unit}）")
            last = p.sku
        out.append(f"· {line(p)}")
    if len(out) > LIST_LIMIT:
        more = len(out) - LIST_LIMIT
        out = out[:LIST_LIMIT] + [f"… {more} more lines; name a SKU" if en else f"……还有 {more} 行，请指定商品"]
    return "\n".join(out)


@price_cmd.sub("list", roles=("manager",))
async def price_list(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Prices in force today and scheduled versions, per SKU."""
    rows = await price_admin.list_policies(ctx.uow(), actor=ctx.actor, sku=args[0] if args else None)
    en = _en(ctx)
    if not rows:
        return [Reply("(no SKUs)" if en else "（没有商品）")]
    return [Reply(_grouped(rows, en, lambda p: policy_line(p, en)))]


@price_cmd.sub("history", roles=("manager",))
async def price_history(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Every version of one SKU's price policies."""
    if not args:
        raise InvalidInput(reason="/price history 商品，例如 /price history A100")
    rows = await price_admin.history(ctx.uow(), actor=ctx.actor, sku=args[0])
    en = _en(ctx)
    if not rows:
        return [Reply(f"{args[0]}: no price policies; the SKU's own prices apply" if en else
                      f"{args[0].upper()} 还没有价格政策，按商品默认价执行（/sku show 查看）。")]
    return [Reply(_grouped(rows, en, lambda p: policy_line(p, en, who=True)))]
