"""What the violation commands say: appeal and decision outcomes, usage, lists, state errors."""
from __future__ import annotations

from services.violation_notices import STATUS_NAMES, line

from .context import Ctx

KIND_EN = {"price": "below floor", "claim": "claimed customer", "region": "cross-territory"}
DECIDED = {"cleared": ("已撤销", "cleared"), "upheld": ("已维持", "upheld")}


def _zh(ctx: Ctx) -> bool:
    return not ctx.locale.startswith("en")


def appeal_usage(ctx: Ctx, violation_id: int | None) -> str:
    n = violation_id or 12
    return (f"请发「申诉 违规编号 理由」，例如：申诉 {n} 客户是批发团购，价格经区域经理同意。违规编号见报单回复或「我的违规」。"
            if _zh(ctx) else f"Send \"appeal ID reason\", e.g. appeal {n} bulk order agreed with the manager. "
                             f"IDs are in the sale reply or in \"violations\".")


def resolve_usage(ctx: Ctx) -> str:
    return ("请发「裁定 违规编号 撤销|维持 [理由]」，例如：裁定 12 撤销 团购价已报批；裁定 12 维持 低于底价。"
            "「我的违规」列出待处理的违规。" if _zh(ctx)
            else "Send \"resolve ID clear|uphold [reason]\", e.g. resolve 12 clear approved bulk price. "
                 "\"violations\" lists those waiting.")


def appealed(ctx: Ctx, v) -> str:
    return (f"已提交申诉：违规 #{v.id}（报单 #{v.sale_id} {v.customer}），渠道经理裁定后会通知您。" if _zh(ctx)
            else f"Appeal of violation #{v.id} (sale #{v.sale_id}) sent; you will hear the decision.")


def resolved(ctx: Ctx, v) -> str:
    zh, en = DECIDED[v.status]
    why = f"（{v.resolution}）" if v.resolution else ""
    if _zh(ctx):
        effect = "该报单恢复计入返利" if v.status == "cleared" else "该报单不计入返利"
        return f"违规 #{v.id}（{v.partner} 报单 #{v.sale_id}）{zh}{why}，{effect}，已通知经销商。"
    return f"Violation #{v.id} ({v.partner}, sale #{v.sale_id}) {en}; the partner has been told."


def listing(ctx: Ctx, rows, *, deciding: bool) -> str:
    if not rows:
        if deciding:
            return "辖区内没有待处理的违规。" if _zh(ctx) else "No violations waiting in your regions."
        return "您没有违规记录。" if _zh(ctx) else "You have no violations."
    if not _zh(ctx):
        head = "Violations waiting:" if deciding else "Your violations:"
        return "\n".join([head, *(f"#{v.id} {v.partner} sale #{v.sale_id} {v.sold_on} {KIND_EN.get(v.kind, v.kind)} "
                                  f"level {v.level} · {v.status}" for v in rows)])
    head = "待处理的违规（申诉优先）：" if deciding else "您的违规记录："
    out = [head]
    for v in rows:
        who = f"{v.partner} " if deciding else ""
        out.append(f"· {who}报单 #{v.sale_id} {v.sold_on.isoformat()} {v.customer} · {line(v)} · "
                   f"{STATUS_NAMES.get(v.status, v.status)}")
        if v.status == "appealed" and v.appeal_reason:
            out.append(f"  申诉理由：{v.appeal_reason}")
    out.append("裁定：「裁定 编号 撤销|维持 [理由]」" if deciding else "对待处理的违规可发「申诉 编号 理由」。")
    return "\n".join(out)


def state_error(ctx: Ctx, exc) -> str:
    f = exc.facts
    status = STATUS_NAMES.get(f.get("status"), f.get("status"))
    if not _zh(ctx):
        return f"Violation #{f.get('id')} is {f.get('status')}; that cannot be done now."
    if f.get("action") == "appeal":
        if f.get("status") == "appealed":
            return f"违规 #{f.get('id')} 已经申诉过，正在等待渠道经理裁定。"
        return f"违规 #{f.get('id')} 当前状态为「{status}」，不能再申诉。"
    return f"违规 #{f.get('id')} 当前状态为「{status}」，无需再裁定。"

