"""What claim pushes say: to the region's managers (with decision buttons) and to the partner."""
from __future__ import annotations

from datetime import datetime

REASONS = {"uscc": "统一社会信用代码相同", "phone": "联系电话相同", "name": "公司名称相近"}
STATUS = {"pending": "待审批", "approved": "已通过", "rejected": "已驳回", "returned": "已退回",
          "released": "已释放", "expired": "已过期"}


def day(at: datetime | None, tz) -> str:
    """The local date, `2027-02-16`."""
    return at.astimezone(tz).date().isoformat() if at else "—"


def reason_text(reason: str, score: float | None = None) -> str:
    """`联系电话相同`, or for names `公司名称相近，相似度 0.93`."""
    words = REASONS.get(reason, reason)
    return f"{words}，相似度 {score:.2f}" if reason == "name" and score else words


def decision_buttons(claim_id: int) -> tuple[str, ...]:
    return (f"通过 #{claim_id}", f"驳回 #{claim_id}", f"退回 #{claim_id}")


def extension_buttons(claim_id: int) -> tuple[str, ...]:
    return (f"同意延期 #{claim_id}", f"拒绝延期 #{claim_id}")


def _contact(info) -> str:
    parts = [f"电话 {info.phone}" if info.phone else "", f"信用代码 {info.uscc}" if info.uscc else ""]
    return "（" + "，".join(p for p in parts if p) + "）" if any(parts) else ""


def _why(info) -> str:
    reason = info.decision_reason.rstrip("。.!！ ")
    return f"审批意见：{reason}。" if reason else ""


def pending(info, conflict, tz) -> str:
    """The managers' message for a claim that matched another partner's claim."""
    old = conflict.claim
    return "\n".join([
        f"📋 报备待审批 #{info.id}：{info.partner} {info.partner_name} 报备「{info.customer}」{_contact(info)}",
        f"与已有报备 #{old.id} 冲突：{old.partner} {old.partner_name} 的「{old.customer}」{_contact(old)}，"
        f"{day(old.claimed_at, tz)} 起，{STATUS.get(old.status, old.status)}"
        + (f"，保护至 {day(old.expires_at, tz)}" if old.expires_at else ""),
        f"匹配原因：{reason_text(conflict.reason, conflict.score)}",
        f"请回复「审批 {info.id} 通过」「审批 {info.id} 驳回 理由」或「审批 {info.id} 退回 理由」。",
    ])


def decided(info, tz) -> str:
    """The submitter's message for a manager's decision."""
    why = _why(info)
    if info.status == "approved":
        note = (f"注意：{info.conflict_partner} 对该客户的报备 #{info.conflict_with_id} 仍然有效。"
                if info.conflict_with_id else "")
        return (f"✅ 您的报备 #{info.id}「{info.customer}」已通过审批，保护期至 {day(info.expires_at, tz)}。"
                f"{why}{note}")
    if info.status == "rejected":
        return f"❌ 您的报备 #{info.id}「{info.customer}」未通过审批。{why}"
    return (f"↩️ 您的报备 #{info.id}「{info.customer}」被退回，请修改后重新报备。{why}")


def extension_asked(info, days: int, tz) -> str:
    return (f"⏳ 延期申请 #{info.id}：{info.partner} {info.partner_name} 的报备「{info.customer}」"
            f"保护期至 {day(info.expires_at, tz)}，申请再延 {days} 天。"
            f"请回复「同意延期 #{info.id}」或「拒绝延期 #{info.id}」。")


def extension_decided(info, approved: bool, tz) -> str:
    if approved:
        return f"✅ 报备 #{info.id}「{info.customer}」延期已批准，保护期延至 {day(info.expires_at, tz)}。"
    why = _why(info)
    return f"❌ 报备 #{info.id}「{info.customer}」的延期申请未获批准，保护期仍至 {day(info.expires_at, tz)}。{why}"


def released(info, waiting: list[int]) -> str:
    ids = "、".join(f"#{i}" for i in waiting)
    return (f"ℹ️ {info.partner} 已释放报备 #{info.id}「{info.customer}」。"
            f"与它冲突、仍待审批的报备：{ids}。")


def reminder(info, days_left: int, tz) -> str:
    left = {0: "今天到期", 1: "明天到期"}.get(days_left, f"还有 {days_left} 天")
    return (f"⏰ 报备 #{info.id}「{info.customer}」的保护期将于 {day(info.expires_at, tz)} 到期（{left}）。"
            f"如仍在跟进，请发「延期 {info.id}」申请延期。")


def expired(info, tz) -> str:
    return (f"⌛ 报备 #{info.id}「{info.customer}」的保护期已于 {day(info.expires_at, tz)} 到期，客户已释放。"
            f"如仍在跟进，可重新报备。")
