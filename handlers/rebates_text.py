"""What 返利 and /rebate say: per scheme the total so far, the tier and rate, the payout with its
arithmetic, the gap to the next tier and what reaching it pays, and the projection — concise,
in yuan (`¥1,234.50`) and, on a quantity basis, in packs."""
from __future__ import annotations

from services import rebate_math as m
from services.rebates import PartnerRebates, SchemeInfo, SchemeStanding, projection_text

BASIS = {"amount": ("销售额", "sales amount"), "qty": ("销量", "quantity")}
MODE = {"retroactive": ("全额累进", "retroactive"), "marginal": ("超额累进", "marginal")}


def _en(locale: str) -> bool:
    return locale.startswith("en")


def _pick(pair: tuple[str, str], locale: str) -> str:
    return pair[1] if _en(locale) else pair[0]


def summary(s: SchemeInfo, locale: str = "zh-CN") -> str:
    """`2026-10-01~2026-12-31 · 销售额 · 全额累进 · 分组 水 · 封顶 ¥5,000.00`."""
    en = _en(locale)
    basis = _pick(BASIS[s.basis], locale)
    if s.basis == m.QTY and s.units.mixed:
        basis += f" ({s.units.mixed})" if en else f"（{s.units.mixed}合计）"
    parts = [f"{s.period_start.isoformat()}~{s.period_end.isoformat()}", basis, _pick(MODE[s.mode], locale)]
    if s.sku_group:
        parts.append(f"group {s.sku_group}" if en else f"分组 {s.sku_group}")
    if s.cap_fen is not None:
        parts.append(f"cap {m.yuan(s.cap_fen)}" if en else f"封顶 {m.yuan(s.cap_fen)}")
    return " · ".join(parts)


def tier_line(s: SchemeInfo, tier: m.Tier, locale: str = "zh-CN") -> str:
    """`≥ ¥50,000.00 返 2%` (retroactive: on the whole) or `超过 ¥50,000.00 的部分返 2%` (marginal)."""
    at, rate = s.amount_text(tier.threshold), m.rate_text(tier.rate_bp)
    if _en(locale):
        return f"from {at}: {rate}" + (" on the part above" if s.mode == m.MARGINAL else " on the whole")
    return f"超过 {at} 的部分返 {rate}" if s.mode == m.MARGINAL else f"满 {at} 全额返 {rate}"


def _total(st: SchemeStanding, locale: str) -> str:
    s, now = st.scheme, st.now
    if s.basis == m.AMOUNT:
        return f"{'total' if _en(locale) else '累计销售额'} {m.yuan(now.total)}"
    if _en(locale):
        return f"total {s.units.packs(now.total)} (sales {m.yuan(now.amount_fen)})"
    return f"累计销量 {s.units.packs(now.total)}（销售额 {m.yuan(now.amount_fen)}）"


def block(st: SchemeStanding, locale: str = "zh-CN") -> str:
    """One scheme's lines for 返利."""
    s, now, en = st.scheme, st.now, _en(locale)
    ended = (" · ended" if en else " · 已结束") if st.ended else ""
    lines = [f"【{s.name}】{s.code}{ended}", summary(s, locale), _total(st, locale)]
    if now.tier is None or (now.tier.rate_bp == 0 and now.payout.fen == 0):
        lines.append("no rebate tier reached yet" if en else "尚未达到返利门槛")
    else:
        lines.append(f"tier: {tier_line(s, now.tier, locale)}" if en else f"当前档：{tier_line(s, now.tier, locale)}")
    lines.append(f"earned: {now.payout.text}" if en else f"已得返利：{now.payout.text}")
    if now.next_tier is None:
        lines.append("top tier reached" if en else "已达最高档")
    else:
        nxt = f"{s.amount_text(now.next_tier.threshold)}（{m.rate_text(now.next_tier.rate_bp)}）"
        gap = s.amount_text(now.gap)
        line = f"next tier {nxt}: {gap} to go" if en else f"距下一档 {nxt}还差 {gap}"
        if now.next_payout is not None:
            est = ("at the current average price " if en else "按当前均价") if s.basis == m.QTY else ""
            line += f"; {est}it pays {now.next_payout.text}" if en else f"，{est}达到可得：{now.next_payout.text}"
        lines.append(line)
    if st.ended:
        lines.append(f"period ended {s.period_end.isoformat()}; these are the final figures" if en
                     else f"本期已于 {s.period_end.isoformat()} 结束，以上为全期结果")
    elif now.total == 0:
        lines.append("nothing counted yet, so no projection" if en else "本期尚无计入的销售，暂无法预计")
    else:
        projected = st.projected
        total = s.amount_text(projected.total)
        lines.append(f"projected: {total} ({projection_text(st)})" if en
                     else f"预计全期 {total}（{projection_text(st)}）")
        lines.append(f"projected rebate: {projected.payout.text}" if en else f"预计返利：{projected.payout.text}")
    return "\n".join(lines)


def progress(result: PartnerRebates, locale: str = "zh-CN") -> str:
    """The whole 返利 answer for one partner."""
    en = _en(locale)
    head = (f"📊 {result.partner_code} {result.partner_name} rebates as of {result.today.isoformat()}" if en
            else f"📊 {result.partner_code} {result.partner_name} 返利进度（截至 {result.today.isoformat()}）")
    if not result.schemes:
        return (f"{result.partner_code} {result.partner_name} has no rebate scheme in force for its tier now. "
                "Schemes are published by head office; your channel manager can tell you more." if en else
                f"{result.partner_code} {result.partner_name} 目前没有适用的返利方案。返利方案由总部发布，"
                "有疑问请联系渠道经理。")
    note = ("Undone sales and sales with an open, appealed or upheld violation do not count." if en
            else "注：已撤销的报单、有未解除价格或窜货违规的报单不计入。")
    return "\n\n".join([head, *(block(st, locale) for st in result.schemes), note])


def which_partner(codes: list[str], locale: str = "zh-CN") -> str:
    """A manager's or admin's bare 返利."""
    sample = "、".join(codes[:10]) + ("…" if len(codes) > 10 else "")
    if _en(locale):
        return "Which partner? e.g. rebate P001" + (f" (yours: {sample})" if codes else "")
    return "请指定经销商，例如：返利 P001" + (f"（可查：{sample}）" if codes else "")


def scheme_line(s: SchemeInfo, locale: str = "zh-CN") -> str:
    """`/rebate list`: `Q4W 四季度水返利 · 2026-10-01~… · 3 档 · A;B`."""
    tiers = ";".join(s.partner_tiers) or ("all tiers" if _en(locale) else "全部等级")
    count = f"{len(s.tiers)} tiers" if _en(locale) else f"{len(s.tiers)} 档"
    return f"{s.code} {s.name} · {summary(s, locale)} · {count} · {tiers}"


def scheme_detail(s: SchemeInfo, locale: str = "zh-CN") -> str:
    """`/rebate show CODE`: every field and the tiers one a line."""
    en = _en(locale)
    group = s.sku_group or ("all SKUs" if en else "全部商品")
    tiers = ";".join(s.partner_tiers) or ("all" if en else "全部等级")
    cap = m.yuan(s.cap_fen) if s.cap_fen is not None else ("none" if en else "不封顶")
    if en:
        head = [f"{s.code} {s.name}", f"period: {s.period_start.isoformat()} ~ {s.period_end.isoformat()} "
                f"({s.period_days} days)", f"basis: {_pick(BASIS[s.basis], locale)}; mode: {_pick(MODE[s.mode], locale)}",
                f"SKU group: {group}", f"partner tiers: {tiers}", f"cap: {cap}", "tiers:"]
    else:
        head = [f"{s.code} {s.name}", f"周期：{s.period_start.isoformat()} 至 {s.period_end.isoformat()}（{s.period_days} 天）",
                f"基准：{_pick(BASIS[s.basis], locale)}　方式：{_pick(MODE[s.mode], locale)}", f"商品分组：{group}",
                f"适用等级：{tiers}", f"封顶：{cap}", "阶梯："]
    return "\n".join(head + [f"· {tier_line(s, t, locale)}" for t in s.tiers])
