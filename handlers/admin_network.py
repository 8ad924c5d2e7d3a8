"""Admin slash-commands for the network: /partner, /invite, /user, /broadcast."""
from __future__ import annotations

from services import broadcast as broadcast_service
from services import catalog, identities
from services.errors import InvalidInput

from .context import Ctx
from .messages import Reply
from .slash import command
from .texts import role_name

partner_cmd = command(
    "partner",
    help_zh="/partner list —— 经销商列表（渠道经理只看辖区）\n/partner show 编码 —— 经销商详情",
    help_en="/partner list — partners (managers see their regions)\n/partner show CODE — one partner",
)


@partner_cmd.sub("list", roles=("manager",))
async def partner_list(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Lists the partners the sender may see."""
    rows = await catalog.list_partners(ctx.uow(), actor=ctx.actor)
    if not rows:
        return [Reply("（暂无经销商）" if not ctx.locale.startswith("en") else "(no partners)")]
    lines = [f"{p.code} {p.name} · {p.tier or '-'}级 · {p.region}" for p in rows]
    return [Reply("\n".join(lines))]


@partner_cmd.sub("show", roles=("manager",))
async def partner_show(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Shows one partner of the sender's scope."""
    if not args:
        raise InvalidInput(reason="/partner show 编码")
    p = await catalog.get_partner(ctx.uow(), actor=ctx.actor, code=args[0])
    parent = f"\n上级：{p.parent_code}" if getattr(p, "parent_code", None) else ""
    return [Reply(f"{p.code} {p.name}\n等级：{p.tier or '-'}\n区域：{p.region}{parent}")]


invite_cmd = command(
    "invite",
    help_zh="/invite member|owner 经销商编码 [姓名]\n/invite manager 区域[;区域…] [姓名]\n/invite admin [姓名]\n"
            "生成一次性邀请码（有效期见配置），对方发送「绑定 邀请码」即可。",
    help_en="/invite member|owner PARTNER [name]\n/invite manager REGION[;REGION…] [name]\n/invite admin [name]\n"
            "Prints a single-use code; the person sends \"bind CODE\".",
)


async def _invite(ctx: Ctx, role: str, args: list[str]) -> list[Reply]:
    partner = regions = None
    if role in ("member", "owner"):
        if not args and ctx.actor.partner_code:
            args = [ctx.actor.partner_code]
        if not args:
            raise InvalidInput(reason=f"/invite {role} 经销商编码")
        partner, args = args[0], args[1:]
    elif role == "manager":
        if not args:
            raise InvalidInput(reason="/invite manager 区域")
        regions, args = tuple(r for r in args[0].replace("；", ";").split(";") if r), args[1:]
    issued = await identities.create_invite(ctx.uow(), actor=ctx.actor, role=role, partner_code=partner,
                                            regions=regions or (), user_name=" ".join(args))
    local = issued.expires_at.astimezone(ctx.deps.settings.tz).strftime("%Y-%m-%d %H:%M")
    who = issued.partner_code or "、".join(issued.regions) or ""
    return [Reply(f"邀请码：{issued.code}\n身份：{role_name(role, ctx.locale)} {who}\n有效期至 {local}，仅可使用一次。"
                  f"\n请对方发送「绑定 {issued.code}」。")]


for _role, _roles in (("member", ("owner",)), ("owner", ()), ("manager", ()), ("admin", ())):
    async def _step(ctx: Ctx, args: list[str], _role=_role) -> list[Reply]:
        return await _invite(ctx, _role, args)
    invite_cmd.sub(_role, roles=_roles)(_step)


user_cmd = command(
    "user",
    help_zh="/user list [经销商编码] —— 人员列表\n/user disable 编号 —— 停用\n/user enable 编号 —— 启用",
    help_en="/user list [PARTNER] — people\n/user disable ID\n/user enable ID",
)


@user_cmd.sub("list", roles=("owner", "manager"))
async def user_list(ctx: Ctx, args: list[str]) -> list[Reply]:
    """People the sender may see, with role and channels."""
    rows = await identities.list_users(ctx.uow(), actor=ctx.actor, partner_code=args[0] if args else None)
    lines = [f"#{u.id} {u.name} · {role_name(u.role, ctx.locale)} · {u.partner_code or '、'.join(u.regions) or '-'}"
             f"{'' if u.active else ' · 已停用'}" for u in rows]
    return [Reply("\n".join(lines) or "（暂无）")]


async def _set_active(ctx: Ctx, args: list[str], active: bool) -> list[Reply]:
    if not args or not args[0].lstrip("#").isdigit():
        raise InvalidInput(reason="/user disable 编号（见 /user list）")
    info = await identities.set_user_active(ctx.uow(), actor=ctx.actor, user_id=int(args[0].lstrip("#")),
                                            active=active)
    return [Reply(f"已{'启用' if active else '停用'} #{info.id} {info.name}。")]


@user_cmd.sub("disable")
async def user_disable(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Disables a user."""
    return await _set_active(ctx, args, False)


@user_cmd.sub("enable")
async def user_enable(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Re-enables a user."""
    return await _set_active(ctx, args, True)


broadcast_cmd = command(
    "broadcast",
    help_zh="/broadcast all 内容 —— 通知所有已绑定人员\n/broadcast 区域 内容 —— 通知该区域经销商的人员（如 江苏）",
    help_en="/broadcast all TEXT — tell everyone bound\n/broadcast REGION TEXT — the people of a region's partners",
)


async def _broadcast(ctx: Ctx, region: str | None, args: list[str]) -> list[Reply]:
    text = " ".join(args).strip()
    if not text:
        raise InvalidInput(reason="/broadcast all 内容")
    n = await broadcast_service.broadcast(ctx.uow(), actor=ctx.actor, text=text, region=region)
    return [Reply(f"已排队发送给 {n} 人。")]


@broadcast_cmd.sub("all")
async def broadcast_all(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Queues a notice to everyone bound."""
    return await _broadcast(ctx, None, args)


async def _broadcast_region(ctx: Ctx, args: list[str]) -> list[Reply]:
    return await _broadcast(ctx, args[0], args[1:])


broadcast_cmd.fallback = (_broadcast_region, ())
