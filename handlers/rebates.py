"""返利 / rebate: where a partner stands in each of its rebate schemes (a manager or admin names a
partner: `返利 P001`), and `/rebate list|show` for admins and managers."""
from __future__ import annotations

import re

from services import catalog
from services import rebates as rebates_service
from services.errors import InvalidInput

from . import rebates_text as T
from .context import Ctx
from .intents import Parsed, normalize
from .messages import Reply
from .router import intent
from .slash import command

_WORDS = re.compile(r"返利|返点|进度|查询|查|rebates?", re.I)
_CODE_LIKE = re.compile(r"(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_\-]*", re.ASCII)


def _partner_asked(text: str) -> str | None:
    """The partner code in `返利 P001`: a word of letters and digits (the service checks it and the scope)."""
    words = re.split(r"[\s,，:：?？。!！]+", _WORDS.sub(" ", normalize(text)))
    return next((w for w in words if _CODE_LIKE.fullmatch(w)), None)


@intent("rebate")
async def rebate(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """Answers at once with the partner's progress in every scheme that applies to it."""
    code = _partner_asked(parsed.rest)
    if code is None and not ctx.actor.is_partner_side:
        visible = [p.code for p in await catalog.list_partners(ctx.uow(), actor=ctx.actor)]
        return [Reply(T.which_partner(visible, ctx.locale))]
    result = await rebates_service.partner_rebates(ctx.uow(), actor=ctx.actor, partner_code=code)
    return [Reply(T.progress(result, ctx.locale))]


rebate_cmd = command(
    "rebate",
    help_zh="/rebate list —— 返利方案列表（渠道经理可用）\n/rebate show 方案编码 —— 方案详情：周期、基准、方式、分组、"
            "适用等级、阶梯、封顶\n方案由 partnerbot import rebate_schemes 文件 导入（同编码再导入即更新）；"
            "经销商发「返利」查看进度，渠道经理发「返利 P001」。",
    help_en="/rebate list — rebate schemes (managers too)\n/rebate show CODE — one scheme: period, basis, mode, "
            "group, partner tiers, tiers, cap\nSchemes come from `partnerbot import rebate_schemes FILE` (the same "
            "code again updates it); partners send \"rebate\", managers \"rebate P001\".",
)


@rebate_cmd.sub("list", roles=("manager",))
async def rebate_list(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Lists every scheme, by start."""
    schemes = await rebates_service.list_schemes(ctx.uow(), actor=ctx.actor)
    if not schemes:
        return [Reply("(no rebate schemes yet)" if ctx.locale.startswith("en") else "（还没有返利方案）")]
    return [Reply("\n".join(T.scheme_line(s, ctx.locale) for s in schemes))]


@rebate_cmd.sub("show", roles=("manager",))
async def rebate_show(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Shows one scheme with its tiers."""
    if not args:
        raise InvalidInput(reason="/rebate show 方案编码")
    scheme = await rebates_service.get_scheme(ctx.uow(), actor=ctx.actor, code=normalize(args[0]))
    return [Reply(T.scheme_detail(scheme, ctx.locale))]
