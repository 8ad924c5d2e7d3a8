"""What violation pushes say and where they go: the seller's region managers (and, for a sale into
another territory, that territory's managers too), head office for repeat offenders, the partner
for a decision."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import User
from storage.uow import UnitOfWork

from . import outbox
from .money import fen_to_yuan_str

KIND_NAMES = {"price": "价格偏离", "claim": "撞单", "region": "窜货"}
STATUS_NAMES = {"open": "待处理", "appealed": "申诉中", "cleared": "已撤销", "upheld": "已维持", "voided": "已作废"}
LEVEL_WORDS = {1: "轻微", 2: "较重", 3: "严重"}
REASONS = {"uscc": "统一社会信用代码相同", "phone": "联系电话相同", "name": "公司名称相同或相近"}


def level_text(level: int) -> str:
    """`2级（较重）`."""
    word = LEVEL_WORDS.get(level)
    return f"{level}级（{word}）" if word else f"{level}级"


def detail(v) -> str:
    """What the violation is, in one line, without its number."""
    e = v.evidence
    if v.kind == "price":
        unit = f"/{e['unit']}" if e.get("unit") else ""
        return (f"{e['sku']} 单价 {fen_to_yuan_str(e['unit_price_fen'])}{unit}，低于最低价 "
                f"{fen_to_yuan_str(e['floor_fen'])}{unit} {e['gap_pct']}%（共 {fen_to_yuan_str(e['line_gap_fen'])}），"
                f"{level_text(v.level)}")
    why = REASONS.get(e.get("reason"), e.get("reason", ""))
    score = e.get("score")
    similar = f"，相似度 {score:.2f}" if e.get("reason") == "name" and score is not None and score < 1 else ""
    where = f"（{e['holder_region']}）" if v.kind == "region" else ""
    claimed = e.get("claim_customer", "")
    named = f"「{claimed}」" if claimed and claimed != v.customer else ""
    return (f"客户「{v.customer}」已由 {e['holder']} {e.get('holder_name', '')}{where}报备"
            f"（报备 #{e['claim_id']}{named}，{why}{similar}）")


def line(v) -> str:
    """`价格偏离 #3：A100 单价 …`."""
    return f"{KIND_NAMES.get(v.kind, v.kind)} #{v.id}：{detail(v)}"


def repeat_text(v) -> str:
    r = v.repeat
    return f"{r['window_days']} 天内第 {r['count']} 次价格偏离，等级已上调一级" if r else ""


def _sale_head(v) -> str:
    return f"{v.partner} {v.partner_name} 报单 #{v.sale_id}（{v.customer} · {v.sold_on.isoformat()}）"


def new_for_managers(infos) -> str:
    first = infos[0]
    rows = [f"⚠️ 违规提醒：{_sale_head(first)}", *(f"· {line(v)}" for v in infos)]
    repeat = next((v for v in infos if v.repeat), None)
    if repeat:
        rows.append(f"🔁 {repeat_text(repeat)}，已同时报告总部。")
    ids = "、".join(f"#{v.id}" for v in infos)
    rows.append(f"经销商可就 {ids} 发「申诉 编号 理由」；您可回复「裁定 编号 撤销|维持 [理由]」。")
    return "\n".join(rows)


def new_for_partner(infos) -> str:
    """The lines the confirmation reply adds (the partner's own view)."""
    rows = [f"⚠️ {line(v)}" for v in infos]
    repeat = next((v for v in infos if v.repeat), None)
    if repeat:
        rows.append(f"🔁 {repeat_text(repeat)}。")
    how = (f"「申诉 {infos[0].id} 理由」" if len(infos) == 1 else
           f"「申诉 编号 理由」（编号 {'、'.join(str(v.id) for v in infos)}）")
    rows.append(f"以上已记录并通知渠道经理，本次报单照常保存；如有异议，请发{how}。")
    return "\n".join(rows)


def for_head_office(infos) -> str:
    first = next(v for v in infos if v.repeat)
    worst = max(v.level for v in infos if v.repeat)
    return (f"🔁 重复价格偏离：{_sale_head(first)}，{repeat_text(first)}（最高 {level_text(worst)}）。\n"
            + "\n".join(f"· {line(v)}" for v in infos if v.kind == "price"))


def voided(infos, why: str) -> str:
    first = infos[0]
    what = "已撤销" if why == "undo" else "已更正"
    ids = "、".join(f"#{v.id}" for v in infos)
    return f"ℹ️ {first.partner} 的报单 #{first.sale_id}（{first.customer}）{what}，违规 {ids} 已作废。"


def appeal_for_managers(v) -> str:
    return "\n".join([
        f"📝 申诉 #{v.id}：{_sale_head(v)}",
        f"{line(v)}",
        f"申诉理由：{v.appeal_reason}",
        f"请回复「裁定 {v.id} 撤销 理由」撤销违规，或「裁定 {v.id} 维持 理由」维持。",
    ])


def appeal_buttons(violation_id: int) -> tuple[str, ...]:
    return (f"裁定 {violation_id} 撤销", f"裁定 {violation_id} 维持")


def resolved_for_partner(v, was_appealed: bool) -> str:
    why = f"裁定意见：{v.resolution.rstrip('。.!！ ')}。" if v.resolution else ""
    what = f"{KIND_NAMES.get(v.kind, v.kind)} #{v.id}（报单 #{v.sale_id} {v.customer}）"
    if v.status == "cleared":
        head = f"✅ 您的申诉已通过：{what}已撤销" if was_appealed else f"✅ {what}已由渠道经理撤销"
        return f"{head}，该报单恢复计入返利。{why}"
    head = f"❌ 您的申诉未通过：{what}维持原判" if was_appealed else f"❌ {what}经渠道经理确认维持"
    return f"{head}，该报单不计入返利。{why}"


async def _same_audience(uow: UnitOfWork, a: str, b: str) -> bool:
    """Whether alerts for regions `a` and `b` reach the same people (one group, or the same managers)."""
    ga, gb = outbox.group_for_region(uow.settings.groups, a), outbox.group_for_region(uow.settings.groups, b)
    if ga or gb:
        return bool(ga and gb and ga[1] == gb[1])
    return await outbox.managers_of(uow, a) == await outbox.managers_of(uow, b)


async def head_office(uow: UnitOfWork, text: str) -> None:
    """`[pricing] head_office` (CHANNEL:ADDRESS) if set, else every active admin directly."""
    spec = uow.settings.pricing.head_office
    if spec:
        channel, _, address = spec.partition(":")
        row = outbox.enqueue(uow, channel=channel, target=address, text=text, kind="violation")
        row.payload = {**row.payload, "group": "head_office"}  # shown instead of the address (it may hold a key)
        return
    admins = await uow.session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True))
                                       .order_by(User.id))
    for uid in admins:
        await outbox.notify_user(uow, user_id=uid, text=text, kind="violation")


async def push_new(uow: UnitOfWork, infos) -> None:
    """New violations of one sale: the seller's region; a sale into another territory also that
    territory's managers; a repeat offender also head office."""
    if not infos:
        return
    region = infos[0].region
    text = new_for_managers(infos)
    await outbox.notify_region(uow, region=region, text=text, kind="violation")
    for other in dict.fromkeys(v.evidence["holder_region"] for v in infos if v.kind == "region"):
        if not await _same_audience(uow, region, other):
            await outbox.notify_region(uow, region=other, text=text, kind="violation")
    if any(v.repeat for v in infos):
        await head_office(uow, for_head_office(infos))


async def push_voided(uow: UnitOfWork, infos, *, why: str) -> None:
    if infos:
        await outbox.notify_region(uow, region=infos[0].region, text=voided(infos, why), kind="violation")
