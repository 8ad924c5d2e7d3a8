"""Help, bind, cancel/confirm with nothing pending, and the answer to what we did not understand."""
from __future__ import annotations

from services import conversation, identities

from .context import Ctx
from .intents import Parsed, command_word
from .messages import Reply
from .router import INTENTS, PARSER, flow, intent
from .texts import role_name

HELP = {
    None: {
        "zh-CN": "我是渠道助手。先绑定账号：向渠道经理索取邀请码，然后发送「绑定 邀请码」。",
        "en": "I am the channel assistant. First bind your account: ask your channel manager for an invite "
              "code, then send \"bind CODE\".",
    },
    "member": {
        "zh-CN": "常用指令：\n· 报单 A100 20箱 28元 张三超市 —— 上报销售\n· 库存 / 库存 A100 —— 查库存\n"
                 "· 盘点 A100 35箱 B100 12箱 —— 盘点\n· 报备 客户名称 [电话] [信用代码] —— 客户报备\n"
                 "· 返利 —— 返利进度、差多少升档、预计返利\n· 我的违规 · 申诉 编号 理由 —— 价格偏离/窜货记录与申诉\n"
                 "· 我的报备 · 延期 编号 · 释放 编号 · 撤销 · 确认 / 取消 · 帮助",
        "en": "Commands:\n· sale A100 20 cases 28 each to Lucky Mart — report a sale\n· stock / stock A100\n"
              "· count A100 35 cases — stocktake\n· claim NAME [phone] [credit code] — claim a customer\n"
              "· rebate — rebate progress, gap to the next tier, projection\n"
              "· violations · appeal N reason — price/territory violations and appeals\n"
              "· claims · extend N · release N · undo · yes / no · help",
    },
    "owner": {
        "zh-CN": "（老板）另可：/user list 查看本公司成员，/invite member 为新业务员生成邀请码。",
        "en": "(owner) also: /user list for your people, /invite member to invite a new clerk.",
    },
    "manager": {
        "zh-CN": "渠道经理指令：\n· 库存 / 库存 P001 —— 辖区低库存 / 某家经销商的库存\n"
                 "· 我的报备 —— 待审批的报备和延期申请\n· 审批 12 通过|驳回|退回 理由 —— 审批报备（也可点按钮）\n"
                 "· 同意延期 #12 / 拒绝延期 #12\n· 我的违规 —— 待处理的违规和申诉\n"
                 "· 裁定 12 撤销|维持 理由 —— 裁定违规（也可点按钮）\n· /price list —— 价格政策\n· 返利 P001 —— 某家经销商的返利进度\n"
                 "· /partner list —— 辖区经销商\n· /user list —— 辖区人员\n· /rebate list —— 返利方案\n"
                 "· 提醒和审批会推送到您的群或私聊。",
        "en": "Manager commands:\n· stock / stock P001 — low stock in your regions / one partner's stock\n"
              "· claims — claims and extensions waiting for you\n· approve #12 / reject #12 reason / return #12 reason\n"
              "· violations · resolve 12 clear|uphold reason — violations and appeals\n· /price list\n"
              "· rebate P001 — one partner's rebate progress\n"
              "· /partner list\n· /user list\n· /rebate list\n· Alerts and approvals come to your group or to you directly.",
    },
    "admin": {
        "zh-CN": "管理员指令（发送「/命令 help」查看用法）：{cmds}",
        "en": "Admin commands (send \"/command help\" for the syntax): {cmds}",
    },
}


@intent("help")
async def help_(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """Answers with what the sender's role can do."""
    from .slash import COMMANDS

    lang = "en" if ctx.locale.startswith("en") else "zh-CN"
    role = ctx.actor.role if ctx.actor else None
    if role is None:
        return [Reply(HELP[None][lang])]
    if role == "admin":
        cmds = " ".join(f"/{n}" for n in sorted(COMMANDS))
        return [Reply(HELP["admin"][lang].format(cmds=cmds))]
    parts = [HELP["member"][lang]] if role in ("member", "owner") else []
    if role in ("owner", "manager"):
        parts.append(HELP[role][lang])
    return [Reply("\n".join(parts))]


@intent("bind")
async def bind(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """Redeems an invite code; asks for one when it is missing."""
    code = parsed.fields.get("code")
    if not code:
        return [Reply(ctx.t("bind_usage"))]
    actor = await identities.bind(ctx.uow(), identity_id=ctx.identity.id, code=code)
    where = ""
    if actor.partner_code:
        where = f"（{actor.partner_code}）" if not ctx.locale.startswith("en") else f" of {actor.partner_code}"
    elif actor.regions:
        where = f"（{'、'.join(actor.regions)}）" if not ctx.locale.startswith("en") else f" for {', '.join(actor.regions)}"
    return [Reply(ctx.t("bound", name=actor.name, role=role_name(actor.role, ctx.locale), where=where))]


@intent("cancel")
async def cancel(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """Drops whatever the conversation was waiting for."""
    state = await conversation.load(ctx.uow(), identity_id=ctx.identity.id)
    if state is None:
        return [Reply(ctx.t("nothing_to_cancel"))]
    if not _plain_answer(ctx):
        return [Reply(ctx.t("answer_plainly"))]  # `怎么取消`: a reading of ours, not a plain no
    await conversation.clear(ctx.uow(), identity_id=ctx.identity.id)
    return [Reply(ctx.t("cancelled"))]


@intent("confirm")
async def confirm(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """`确认` with nothing pending (pending flows take `确认` themselves); a yes the pending step did
    not take as plain (`嗯嗯 对的 麻烦了`) is asked again in so many words, never taken as a yes."""
    if await conversation.load(ctx.uow(), identity_id=ctx.identity.id) is not None:
        return [Reply(ctx.t("answer_plainly"))]
    return [Reply(ctx.t("nothing_to_confirm"))]


def _plain_answer(ctx: Ctx) -> bool:
    return command_word(ctx.msg.text or "") is not None


CHOOSE = "choose"
# What each role can be offered when a message is unclear, in a sensible default order.
ROLE_CHOICES = {"member": ("sale", "stock", "claim", "rebate", "count", "claims", "help"),
                "owner": ("sale", "stock", "claim", "rebate", "count", "claims", "help"),
                "manager": ("stock", "claims", "violations", "rebate", "help"),
                "admin": ("help",)}
# Choices that take the unclear message itself as their content (`还有一家 X 电话…` → 报备 X 电话…).
WITH_TEXT = ("sale", "count", "stock")  # a claim's name is asked for: a whole sentence is no name


@intent("unknown")
async def unknown(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """Offers the likeliest things the sender meant, numbered and as buttons; a number picks one."""
    if ctx.actor is None:
        return [Reply(ctx.t("unbound"))]
    allowed = ROLE_CHOICES.get(ctx.actor.role, ROLE_CHOICES["member"])
    guesses = [g for g in parsed.fields.get("guesses") or () if g in allowed]
    guesses = list(dict.fromkeys(guesses + list(allowed)))[:4]
    if await conversation.load(ctx.uow(), identity_id=ctx.identity.id) is not None:
        return [Reply(ctx.t("unknown", hint=ctx.t("unknown_hint")))]  # never displaces a pending read-back
    await conversation.save(ctx.uow(), identity_id=ctx.identity.id, flow=CHOOSE, step="pick",
                            data={"guesses": guesses, "text": (ctx.msg.text or "")[:500]})
    lines = "\n".join(f"{n} {ctx.t('choice.' + g)}" for n, g in enumerate(guesses, start=1))
    example = ctx.t("example.manager" if ctx.actor.role in ("manager", "admin") else "example.partner")
    return [Reply(ctx.t("unknown_choices", choices=lines, example=example),
                  buttons=tuple(ctx.t("word." + g) for g in guesses))]


@flow(CHOOSE)
async def choose(ctx: Ctx, state: conversation.State) -> list[Reply] | None:
    """`2` after the choices: runs that choice as if its command word had been sent; anything else
    goes on to normal routing (and the choices are forgotten)."""
    await conversation.clear(ctx.uow(), identity_id=ctx.identity.id)
    guesses = state.data.get("guesses", [])
    text = (ctx.msg.text or "").strip()
    if not (text.isdigit() and 1 <= int(text) <= len(guesses)):
        return None
    choice = guesses[int(text) - 1]
    word = ctx.t("word." + choice)
    said = state.data.get("text", "")
    parsed = await PARSER[-1](ctx, f"{word} {said}" if choice in WITH_TEXT and said else word)
    if parsed.intent != choice:  # the words did not fit that meaning after all: start it afresh
        parsed = await PARSER[-1](ctx, word)
    return await INTENTS.get(parsed.intent, INTENTS["unknown"])(ctx, parsed)
