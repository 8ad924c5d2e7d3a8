"""What the 报备 conversation says: the read-back, outcomes, lists, and decisions."""
from __future__ import annotations

from services.claims_notices import STATUS, day, reason_text

from .context import Ctx

STATUS_EN = {"pending": "pending", "approved": "approved", "rejected": "rejected", "returned": "returned",
             "released": "released", "expired": "expired"}
DECIDED = {"approved": ("已通过", "approved"), "rejected": ("已驳回", "rejected"), "returned": ("已退回", "returned")}
LIMIT = 30


def _zh(ctx: Ctx) -> bool:
    return not ctx.locale.startswith("en")


def _tz(ctx: Ctx):
    return ctx.deps.settings.tz


def buttons(ctx: Ctx) -> tuple[str, ...]:
    return ("确认", "取消") if _zh(ctx) else ("yes", "no")


def ask_customer(ctx: Ctx) -> str:
    return ("请发要报备的客户名称，可附电话和统一社会信用代码，例如：南京好邻居商贸有限公司 13912345678"
            if _zh(ctx) else "Which customer? Send the name, optionally with phone and credit code.")


def read_back(ctx: Ctx, customer: str, phone: str | None, uscc: str | None) -> str:
    if _zh(ctx):
        rows = ["请确认这条客户报备：", f"客户：{customer}", f"电话：{phone}" if phone else "",
                f"信用代码：{uscc}" if uscc else "", "回复「确认」提交，「取消」放弃。"]
    else:
        rows = ["Please confirm this customer claim:", f"Customer: {customer}", f"Phone: {phone}" if phone else "",
                f"Credit code: {uscc}" if uscc else "", "Reply \"yes\" to submit or \"no\" to drop it."]
    return "\n".join(r for r in rows if r)


def submitted(ctx: Ctx, result) -> str:
    """The outcome of a confirmed claim: approved, pending for a manager, or already this partner's."""
    c, tz = result.claim, _tz(ctx)
    days = ctx.deps.settings.app.claim_protection_days
    if result.outcome == "already_yours":
        if c.status == "pending":
            return (f"「{c.customer}」已在您的报备 #{c.id} 中，正在等待渠道经理审批，无需重复报备。" if _zh(ctx)
                    else f"\"{c.customer}\" is already your claim #{c.id}, awaiting a manager's decision.")
        return (f"「{c.customer}」已经是您的客户（报备 #{c.id}），保护期至 {day(c.expires_at, tz)}，无需重复报备。"
                if _zh(ctx) else f"\"{c.customer}\" is already yours (claim #{c.id}), protected until "
                                 f"{day(c.expires_at, tz)}.")
    if result.outcome == "approved":
        return (f"✅ 报备成功 #{c.id}：「{c.customer}」保护期 {days} 天，至 {day(c.expires_at, tz)}。"
                f"到期前 7 天和 1 天会提醒您，可发「延期 {c.id}」申请延期。" if _zh(ctx)
                else f"✅ Claim #{c.id} approved: \"{c.customer}\" is protected for {days} days, until "
                     f"{day(c.expires_at, tz)}. Send \"extend {c.id}\" to ask for more time.")
    old = result.conflict.claim
    return (f"⏳ 报备 #{c.id}「{c.customer}」与 {old.partner} 的报备「{old.customer}」冲突"
            f"（原因：{reason_text(result.conflict.reason)}），已提交渠道经理审批，结果会通知您。" if _zh(ctx)
            else f"⏳ Claim #{c.id} \"{c.customer}\" conflicts with {old.partner}'s claim \"{old.customer}\" "
                 f"({result.conflict.reason}); a channel manager will decide and you will be told.")


def _status(ctx: Ctx, status: str) -> str:
    return STATUS.get(status, status) if _zh(ctx) else STATUS_EN.get(status, status)


def _partner_line(ctx: Ctx, c) -> str:
    tz = _tz(ctx)
    if c.status == "approved":
        ext = "（已申请延期）" if c.extension_requested_at else ""
        return (f"· #{c.id} {c.customer}：保护至 {day(c.expires_at, tz)}{ext}" if _zh(ctx)
                else f"· #{c.id} {c.customer}: protected until {day(c.expires_at, tz)}")
    return (f"· #{c.id} {c.customer}：{_status(ctx, c.status)}（{day(c.claimed_at, tz)} 提交）" if _zh(ctx)
            else f"· #{c.id} {c.customer}: {_status(ctx, c.status)} (since {day(c.claimed_at, tz)})")


def _manager_line(ctx: Ctx, c) -> str:
    tz = _tz(ctx)
    if c.status == "approved":
        return (f"· #{c.id} {c.partner}「{c.customer}」申请延期，现保护至 {day(c.expires_at, tz)}"
                f" —— 回复「同意延期 #{c.id}」或「拒绝延期 #{c.id}」" if _zh(ctx)
                else f"· #{c.id} {c.partner} \"{c.customer}\" asks for an extension (until {day(c.expires_at, tz)})")
    clash = (f"，与 #{c.conflict_with_id} {c.conflict_partner}「{c.conflict_customer}」冲突"
             f"（{reason_text(c.conflict_reason)}）" if c.conflict_with_id else "")
    return (f"· #{c.id} {c.partner}「{c.customer}」{day(c.claimed_at, tz)} 提交{clash}" if _zh(ctx)
            else f"· #{c.id} {c.partner} \"{c.customer}\" since {day(c.claimed_at, tz)}"
                 + (f", conflicts with #{c.conflict_with_id} {c.conflict_partner}" if c.conflict_with_id else ""))


def listing(ctx: Ctx, claims, *, deciding: bool) -> str:
    """A partner's live claims, or what awaits a manager's decision."""
    if not claims:
        if deciding:
            return "目前没有待审批的报备。" if _zh(ctx) else "No claims await a decision."
        return ("您还没有生效中的报备。发送「报备 客户名称 [电话] [信用代码]」报备客户。" if _zh(ctx)
                else "You have no live claims. Send \"claim NAME [phone] [credit code]\".")
    line = _manager_line if deciding else _partner_line
    rows = [line(ctx, c) for c in claims[:LIMIT]]
    more = len(claims) - LIMIT
    if _zh(ctx):
        head = f"待审批的报备（{len(claims)} 条）：" if deciding else f"您的报备（{len(claims)} 条）："
        tail = ("回复「审批 编号 通过|驳回|退回 理由」。" if deciding else "发「延期 编号」申请延期，「释放 编号」释放客户。")
        return "\n".join([head, *rows, *([f"……另有 {more} 条"] if more > 0 else []), tail])
    head = f"Claims awaiting a decision ({len(claims)}):" if deciding else f"Your claims ({len(claims)}):"
    return "\n".join([head, *rows, *([f"… and {more} more"] if more > 0 else [])])


def decided(ctx: Ctx, info) -> str:
    """The manager's reply after a decision."""
    zh, en = DECIDED[info.status]
    if _zh(ctx):
        extra = f"，保护期至 {day(info.expires_at, _tz(ctx))}" if info.status == "approved" else ""
        note = (f"；{info.conflict_partner} 的报备 #{info.conflict_with_id} 保持不变"
                if info.status == "approved" and info.conflict_with_id else "")
        return f"好的，报备 #{info.id}（{info.partner}「{info.customer}」）{zh}{extra}{note}，已通知经销商。"
    return f"Claim #{info.id} ({info.partner} \"{info.customer}\") {en}; the partner has been told."


def decide_usage(ctx: Ctx, claim_id: int) -> str:
    return (f"请写明审批结果，例如「审批 {claim_id} 通过」「审批 {claim_id} 驳回 理由」或「审批 {claim_id} 退回 理由」。"
            if _zh(ctx) else f"Say the decision, e.g. \"approve #{claim_id}\" or \"reject #{claim_id} REASON\".")


def ask_reason(ctx: Ctx, claim_id: int, decision: str) -> str:
    word = {"reject": "驳回", "return": "退回"}[decision]
    return (f"请回复{word}报备 #{claim_id} 的理由（经销商会看到），或「取消」。" if _zh(ctx)
            else f"Please reply with the reason to {decision} claim #{claim_id} (the partner will see it), or \"no\".")


def extension_requested(ctx: Ctx, info) -> str:
    return (f"已提交报备 #{info.id}「{info.customer}」的延期申请，渠道经理审批后会通知您。" if _zh(ctx)
            else f"Extension of claim #{info.id} requested; you will be told the decision.")


def extension_decided(ctx: Ctx, info, approved: bool) -> str:
    if _zh(ctx):
        return (f"好的，报备 #{info.id}（{info.partner}「{info.customer}」）"
                + (f"已延期至 {day(info.expires_at, _tz(ctx))}" if approved else "的延期申请已拒绝") + "，已通知经销商。")
    return f"Claim #{info.id}: extension {'approved' if approved else 'refused'}; the partner has been told."


def released(ctx: Ctx, info) -> str:
    return (f"已释放报备 #{info.id}「{info.customer}」，其他经销商现在可以报备这个客户。" if _zh(ctx)
            else f"Claim #{info.id} \"{info.customer}\" released.")


def state_error(ctx: Ctx, exc) -> str:
    """Why this claim cannot be decided, extended or released now."""
    f = exc.facts
    if exc.code == "claim_extension_pending":
        return (f"报备 #{f['id']} 已经申请过延期，正在等待渠道经理审批。" if _zh(ctx)
                else f"Claim #{f['id']} already has an extension request waiting.")
    action = {"decide": "无需再审批", "extend": "不能申请延期", "decide_extension": "没有待审批的延期申请",
              "release": "不能释放"}.get(f.get("action"), "不能这样操作")
    if f.get("action") == "decide_extension" and f.get("status") == "approved":
        return f"报备 #{f['id']} 没有待审批的延期申请。" if _zh(ctx) else f"Claim #{f['id']} has no extension request."
    return (f"报备 #{f['id']} 当前是「{_status(ctx, f['status'])}」，{action}。" if _zh(ctx)
            else f"Claim #{f['id']} is {_status(ctx, f['status'])}; that is not possible now.")
