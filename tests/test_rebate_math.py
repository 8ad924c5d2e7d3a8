"""Rebate arithmetic by hand: both modes at, one fen below and one fen above every threshold;
marginal never applies the top rate to the whole total, retroactive does; caps; quantity basis;
zero totals; rounding half up once at the end; the projection."""
from __future__ import annotations

from fractions import Fraction

import pytest

from services import rebate_math as m

# 0:0%;50000:2%;150000:3.5% in fen
TIERS = [[0, 0], [5_000_000, 200], [15_000_000, 350]]
RETRO = m.Rule.of("amount", "retroactive", TIERS)
MARGINAL = m.Rule.of("amount", "marginal", TIERS)


def bottles(n: int) -> str:
    return f"{n:,}瓶"


@pytest.mark.parametrize("total,fen", [
    (0, 0),
    (4_999_999, 0),             # one fen below ¥50,000: still 0 %
    (5_000_000, 100_000),       # exactly at: 2 % of the whole = ¥1,000.00
    (5_000_001, 100_000),       # one fen above: 100,000.02 fen → 100,000
    (14_999_999, 300_000),      # 299,999.98 fen → ¥3,000.00
    (15_000_000, 525_000),      # exactly at: 3.5 % of the whole = ¥5,250.00
    (15_000_001, 525_000),      # 525,000.035 fen → 525,000
    (18_200_000, 637_000),      # ¥182,000 × 3.5 % = ¥6,370.00
])
def test_retroactive_applies_the_tier_reached_to_the_whole_total(total, fen):
    assert m.payout(RETRO, total).fen == fen


@pytest.mark.parametrize("total,fen", [
    (0, 0),
    (4_999_999, 0),
    (5_000_000, 0),             # exactly at: the 2 % band is still empty
    (5_000_001, 0),             # one fen × 2 % = 0.02 fen → 0
    (14_999_999, 200_000),      # 9,999,999 × 2 % = 199,999.98 → ¥2,000.00
    (15_000_000, 200_000),      # ¥100,000 × 2 %
    (15_000_001, 200_000),      # + one fen × 3.5 % = 0.035 fen
    (18_200_000, 312_000),      # ¥2,000 + ¥32,000 × 3.5 % = ¥3,120.00
])
def test_marginal_pays_each_band_at_its_own_rate(total, fen):
    assert m.payout(MARGINAL, total).fen == fen


def test_marginal_never_applies_the_top_rate_to_the_whole_total_and_retroactive_does():
    total = 18_200_000
    assert m.payout(RETRO, total).fen == total * 350 // 10_000
    assert m.payout(MARGINAL, total).fen < total * 350 // 10_000
    assert m.payout(MARGINAL, total).fen == 5_000_000 * 0 + 10_000_000 * 200 // 10_000 + 3_200_000 * 350 // 10_000


def test_the_arithmetic_is_written_out_for_both_modes():
    assert m.payout(RETRO, 18_200_000).text == "¥182,000.00 × 3.5% = ¥6,370.00"
    assert m.payout(MARGINAL, 18_200_000).text == \
        "¥50,000.00×0% + ¥100,000.00×2% + ¥32,000.00×3.5% = ¥3,120.00"
    assert m.payout(RETRO, 0).text == "¥0.00 × 0% = ¥0.00"
    assert m.payout(MARGINAL, 0).text == "¥0.00 × 0% = ¥0.00"


def test_marginal_below_a_first_threshold_above_zero_earns_nothing():
    rule = m.Rule.of("amount", "marginal", [[5_000_000, 200], [15_000_000, 350]])
    assert m.payout(rule, 4_000_000).fen == 0
    p = m.payout(rule, 6_000_000)
    assert p.fen == 20_000 and p.text == "¥50,000.00×0% + ¥10,000.00×2% = ¥200.00"
    retro = m.Rule.of("amount", "retroactive", [[5_000_000, 200]])
    assert m.standing(retro, 4_000_000).tier is None and m.payout(retro, 4_000_000).text == "¥40,000.00 × 0% = ¥0.00"


@pytest.mark.parametrize("rule,total,tier,nxt,gap,next_fen", [
    (RETRO, 0, 0, 5_000_000, 5_000_000, 100_000),
    (RETRO, 4_999_999, 0, 5_000_000, 1, 100_000),
    (RETRO, 5_000_000, 1, 15_000_000, 10_000_000, 525_000),
    (RETRO, 14_999_999, 1, 15_000_000, 1, 525_000),
    (RETRO, 15_000_000, 2, None, None, None),
    (MARGINAL, 4_999_999, 0, 5_000_000, 1, 0),
    (MARGINAL, 5_000_001, 1, 15_000_000, 9_999_999, 200_000),
    (MARGINAL, 18_200_000, 2, None, None, None),
])
def test_standing_names_the_tier_the_next_threshold_the_gap_and_what_it_pays(rule, total, tier, nxt, gap, next_fen):
    st = m.standing(rule, total)
    assert st.tier == rule.tiers[tier]
    assert (st.next_tier.threshold if st.next_tier else None) == nxt
    assert st.gap == gap
    assert (st.next_payout.fen if st.next_payout else None) == next_fen


def test_caps_limit_the_payout_and_say_so():
    rule = m.Rule.of("amount", "retroactive", TIERS, cap_fen=500_000)
    p = m.payout(rule, 18_200_000)
    assert (p.fen, p.uncapped_fen, p.capped) == (500_000, 637_000, True)
    assert p.text == "¥182,000.00 × 3.5% = ¥6,370.00，封顶 ¥5,000.00"
    assert m.payout(rule, 15_000_000).fen == 500_000                # ¥5,250 capped
    assert m.payout(rule, 14_999_999).fen == 300_000                # under the cap: untouched
    assert m.standing(rule, 14_999_999).next_payout.fen == 500_000  # what the next tier pays is capped too
    marginal = m.Rule.of("amount", "marginal", TIERS, cap_fen=250_000)
    assert m.payout(marginal, 18_200_000).fen == 250_000
    assert m.payout(marginal, 14_999_999).capped is False


def test_rounding_is_half_up_once_at_the_end():
    one = m.Rule.of("amount", "retroactive", [[0, 200]])
    assert m.payout(one, 25).fen == 1          # 0.5 fen → 1
    assert m.payout(one, 24).fen == 0          # 0.48 fen → 0
    assert m.payout(one, 75).fen == 2          # 1.5 fen → 2
    bands = m.Rule.of("amount", "marginal", [[0, 350], [100, 350]])
    assert m.payout(bands, 200).fen == 7       # 3.5 + 3.5 = 7, not round(3.5) + round(3.5) = 8
    assert m.round_half_up(Fraction(5, 2)) == 3 and m.round_half_up(Fraction(-5, 2)) == -3


def test_rates_are_exact_basis_points():
    assert [m.parse_rate(t) for t in ("3.5%", "2.25%", "0%", "100%", "2", "3.5％", " 1.5 % ")] == \
        [350, 225, 0, 10_000, 200, 350, 150]
    assert [m.rate_text(bp) for bp in (350, 225, 200, 0, 10_000, 5)] == ["3.5%", "2.25%", "2%", "0%", "100%", "0.05%"]
    rule = m.Rule.of("amount", "retroactive", [[0, 225]])
    assert m.payout(rule, 1_000_000).fen == 22_500   # ¥10,000 × 2.25 % = ¥225.00 exactly
    for bad, why in (("2.125%", "两位小数"), ("101%", "0% 到 100%"), ("-1%", "0% 到 100%"), ("abc", "百分数")):
        with pytest.raises(ValueError) as exc:
            m.parse_rate(bad)
        assert why in str(exc.value)


def test_rules_need_increasing_thresholds():
    for tiers in ([], [[0, 0], [0, 200]], [[100, 0], [50, 200]], [[0, 10_001]]):
        with pytest.raises(ValueError):
            m.Rule.of("amount", "retroactive", tiers)
    with pytest.raises(ValueError):
        m.Rule.of("weight", "retroactive", TIERS)


# quantity basis: 0:0%;1000:2%;3000:3.5% in bottles, paid on the counted amount ------------------

QTY_TIERS = [[0, 0], [1000, 200], [3000, 350]]
Q_RETRO = m.Rule.of("qty", "retroactive", QTY_TIERS)
Q_MARGINAL = m.Rule.of("qty", "marginal", QTY_TIERS)


@pytest.mark.parametrize("qty,amount,retro,marginal", [
    (0, 0, 0, 0),
    (999, 2_497_500, 0, 0),                 # one below 1,000 bottles
    (1000, 2_500_000, 50_000, 0),           # exactly at: 2 % of ¥25,000 retroactively; the band is empty
    (1001, 2_502_500, 50_050, 50),          # marginal: ¥25,025 × (1×2%) ÷ 1,001 = 0.5 yuan
    (2999, 7_497_500, 149_950, 99_950),     # marginal: ¥74,975 × (1,999×2%) ÷ 2,999 = ¥999.50
    (3000, 7_500_000, 262_500, 100_000),    # marginal: ¥75,000 × (2,000×2%) ÷ 3,000 = ¥1,000.00
    (3001, 7_502_500, 262_588, 100_088),    # retro 262,587.5 → 262,588; marginal ¥25 × (2,000×2% + 1×3.5%) = 100,087.5
    (3500, 8_750_000, 306_250, 143_750),    # ¥87,500 × 3.5 % = ¥3,062.50; marginal ¥1,437.50
])
def test_quantity_basis_reaches_tiers_by_quantity_and_pays_on_the_amount(qty, amount, retro, marginal):
    assert m.payout(Q_RETRO, qty, amount).fen == retro
    assert m.payout(Q_MARGINAL, qty, amount).fen == marginal


def test_quantity_arithmetic_is_written_out_in_units():
    assert m.payout(Q_RETRO, 3500, 8_750_000, qty_text=bottles).text == \
        "销量 3,500瓶 适用 3.5%：¥87,500.00 × 3.5% = ¥3,062.50"
    assert m.payout(Q_MARGINAL, 3500, 8_750_000, qty_text=bottles).text == \
        "¥87,500.00 × (1,000瓶×0% + 2,000瓶×2% + 500瓶×3.5%) ÷ 3,500瓶 = ¥1,437.50"


def test_quantity_next_tier_pays_at_the_same_average_price_and_is_open_with_nothing_sold():
    st = m.standing(Q_RETRO, 2000, 5_000_000)        # ¥25 a bottle
    assert (st.gap, st.next_payout.fen) == (1000, 262_500)  # 3,000 bottles × ¥25 × 3.5 %
    st = m.standing(Q_MARGINAL, 2000, 5_000_000)
    assert st.next_payout.fen == 100_000            # ¥75,000 × (2,000×2%) ÷ 3,000
    zero = m.standing(Q_RETRO, 0, 0)
    assert zero.payout.fen == 0 and zero.gap == 1000 and zero.next_payout is None


def test_pace_runs_the_total_on_at_its_daily_average():
    p = m.pace(18_200_000, elapsed_days=49, period_days=92)       # Q4 as of 18 Nov
    assert p.projected == 34_171_429 and m.yuan(p.per_day) == "¥3,714.29" and not p.complete
    assert m.payout(RETRO, p.projected).fen == 1_196_000            # ¥341,714.29 × 3.5 % = ¥11,960.00
    assert m.pace(500, elapsed_days=0, period_days=30).projected == 15_000   # the first day counts as one
    done = m.pace(500, elapsed_days=45, period_days=30)
    assert done.complete and done.projected == 500
    assert m.pace(0, elapsed_days=10, period_days=30).projected == 0
    assert m.per_day_qty_text(Fraction(125, 10)) == "12.5" and m.per_day_qty_text(Fraction(40)) == "40"
