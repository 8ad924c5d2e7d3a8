"""Rebate arithmetic (返利计算), pure: no database, no clock. Every figure is exact (integers and
`Fraction`) until the payout is rounded half up to the fen, once, at the end.

A rule is a basis, a mode, tiers and an optional cap. A tier is (threshold, rate): the threshold
in fen for an amount basis or in base units for a quantity basis, the rate in basis points
(1 bp = 0.01 %, so 3.5 % is 350 and 2.25 % is 225, both exact). A total reaches a tier when it is
at least the tier's threshold (exactly at the threshold counts).

- **retroactive (全额累进)**: the rate of the tier reached applies to the whole total.
  `¥182,000.00 × 3.5% = ¥6,370.00`
- **marginal (超额累进)**: each band between two thresholds earns its own rate; the top rate
  applies only to what lies above the top threshold. What lies below the first threshold earns
  nothing. `¥50,000.00×0% + ¥100,000.00×2% + ¥32,000.00×3.5% = ¥3,120.00`
- **cap (封顶)**: the payout never exceeds it. `… = ¥6,370.00，封顶 ¥5,000.00`

**Quantity basis (按数量):** the tier is reached by quantity, but a rebate is money: it pays the
rate on the counted sales amount of the qualifying SKUs (达量返利：销量达档，按销售额返点).
Retroactive: `amount × rate`. Marginal: each quantity band earns its rate on its share of the
amount, i.e. `amount × Σ(band qty × band rate) ÷ total qty` (every unit sold at the period's
average price): `¥87,500.00 × (1,000瓶×0% + 2,000瓶×2% + 500瓶×3.5%) ÷ 3,500瓶 = ¥1,437.50`.
What reaching the next quantity threshold would pay assumes the same average price; with nothing
sold yet there is no price to go by and it is left open (None).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Callable, Sequence

AMOUNT, QTY = "amount", "qty"
RETROACTIVE, MARGINAL = "retroactive", "marginal"
BASES, MODES = (AMOUNT, QTY), (RETROACTIVE, MARGINAL)
BP = 10_000  # basis points in a whole

QtyText = Callable[[int], str]


def _plain_qty(n: int) -> str:
    return f"{n:,}"


@dataclass(frozen=True)
class Tier:
    threshold: int   # fen (amount basis) or base units (qty basis)
    rate_bp: int     # basis points


@dataclass(frozen=True)
class Rule:
    basis: str
    mode: str
    tiers: tuple[Tier, ...]
    cap_fen: int | None = None

    @classmethod
    def of(cls, basis: str, mode: str, tiers: Sequence[Sequence[int]], cap_fen: int | None = None) -> Rule:
        """A rule from stored values (`tiers` as [[threshold, rate_bp], …]); checks what the math needs."""
        if basis not in BASES or mode not in MODES:
            raise ValueError(f"basis must be one of {BASES} and mode one of {MODES}")
        built = tuple(Tier(int(t), int(r)) for t, r in tiers)
        check_tiers(built)
        return cls(basis, mode, built, cap_fen)


def check_tiers(tiers: Sequence[Tier]) -> None:
    """Raises ValueError unless there is a tier, thresholds ≥ 0 strictly increase and rates are 0–100 %."""
    if not tiers:
        raise ValueError("at least one tier is needed")
    for before, after in zip(tiers, tiers[1:]):
        if after.threshold <= before.threshold:
            raise ValueError("thresholds must increase")
    for tier in tiers:
        if tier.threshold < 0 or not 0 <= tier.rate_bp <= BP:
            raise ValueError("thresholds must be ≥ 0 and rates between 0 % and 100 %")


@dataclass(frozen=True)
class Payout:
    fen: int            # what is paid: rounded half up, then capped
    uncapped_fen: int
    capped: bool
    text: str           # the arithmetic, written out


@dataclass(frozen=True)
class Standing:
    """Where a total stands in a rule: tier reached, payout, the next tier and what it would pay."""

    total: int                  # fen or base units
    amount_fen: int             # the money the rate applies to (= total on an amount basis)
    tier: Tier | None           # the tier reached; None below the first threshold
    payout: Payout
    next_tier: Tier | None      # None at the top tier
    gap: int | None             # next threshold − total
    next_payout: Payout | None  # the payout at the next threshold; None at the top or when unknown

    @property
    def rate_bp(self) -> int:
        return self.tier.rate_bp if self.tier else 0


def round_half_up(value: Fraction) -> int:
    """The nearest integer, halves away from zero (values here are never negative)."""
    sign = -1 if value < 0 else 1
    return sign * int(abs(value) + Fraction(1, 2))


def yuan(fen: int | Fraction) -> str:
    """`¥1,234.50`; an exact fraction of a fen is rounded half up for display."""
    if isinstance(fen, Fraction):
        fen = round_half_up(fen)
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def rate_text(rate_bp: int) -> str:
    """350 → `3.5%`, 200 → `2%`, 225 → `2.25%`."""
    pct = Decimal(rate_bp).scaleb(-2)
    text = format(pct.normalize(), "f") if pct else "0"
    return f"{text}%"


def parse_rate(text: str) -> int:
    """`3.5%`, `3.5`, `3.5％` → 350 basis points; ValueError (with a Chinese reason) otherwise."""
    s = text.strip().replace("％", "%").rstrip("%").strip()
    try:
        pct = Decimal(s)
    except InvalidOperation:
        raise ValueError(f"返点「{text}」不是百分数，应形如 3.5%") from None
    if not pct.is_finite() or not 0 <= pct <= 100:
        raise ValueError(f"返点「{text}」须在 0% 到 100% 之间")
    bp = pct * 100
    if bp != bp.to_integral_value():
        raise ValueError(f"返点「{text}」最多两位小数（如 2.25%）")
    return int(bp)


def reached(rule: Rule, total: int) -> int | None:
    """Index of the highest tier whose threshold the total has reached; None below the first."""
    found = None
    for i, tier in enumerate(rule.tiers):
        if total >= tier.threshold:
            found = i
    return found


def _bands(rule: Rule, total: int) -> list[tuple[int, int]]:
    """(band size, rate bp) of every band the total reaches into; below the first threshold is 0 %."""
    out: list[tuple[int, int]] = []
    first = rule.tiers[0].threshold
    if first > 0 and total > 0:
        out.append((min(total, first), 0))
    for i, tier in enumerate(rule.tiers):
        if total <= tier.threshold:
            break
        top = rule.tiers[i + 1].threshold if i + 1 < len(rule.tiers) else None
        out.append(((min(total, top) if top is not None else total) - tier.threshold, tier.rate_bp))
    return out


def payout(rule: Rule, total: int, amount_fen: int | Fraction | None = None, *,
           qty_text: QtyText = _plain_qty) -> Payout:
    """What `total` earns, with the arithmetic. On a qty basis `amount_fen` is the money paid on."""
    if rule.basis == AMOUNT:
        amount = Fraction(total)
    else:
        amount = Fraction(amount_fen or 0)
    idx = reached(rule, total)
    bands = _bands(rule, total) if rule.mode == MARGINAL else []
    if rule.mode == RETROACTIVE or not bands:
        rate = rule.tiers[idx].rate_bp if idx is not None and total > 0 else 0
        exact = amount * rate / BP
        head = f"{yuan(amount)} × {rate_text(rate)}"
        if rule.basis == QTY and total > 0:
            head = f"销量 {qty_text(total)} 适用 {rate_text(rate)}：{head}"
    elif rule.basis == AMOUNT:
        exact = Fraction(sum(size * rate for size, rate in bands), BP)
        head = " + ".join(f"{yuan(size)}×{rate_text(rate)}" for size, rate in bands)
    else:
        weighted = sum(size * rate for size, rate in bands)
        exact = amount * weighted / (BP * total)
        terms = " + ".join(f"{qty_text(size)}×{rate_text(rate)}" for size, rate in bands)
        head = f"{yuan(amount)} × ({terms}) ÷ {qty_text(total)}"
    fen = round_half_up(exact)
    text = f"{head} = {yuan(fen)}"
    if rule.cap_fen is not None and fen > rule.cap_fen:
        return Payout(rule.cap_fen, fen, True, f"{text}，封顶 {yuan(rule.cap_fen)}")
    return Payout(fen, fen, False, text)


def standing(rule: Rule, total: int, amount_fen: int | None = None, *, qty_text: QtyText = _plain_qty) -> Standing:
    """The tier reached, the payout so far, the next threshold, the gap and what reaching it pays."""
    amount = total if rule.basis == AMOUNT else (amount_fen or 0)
    idx = reached(rule, total)
    nxt = (idx + 1) if idx is not None else 0
    next_tier = rule.tiers[nxt] if nxt < len(rule.tiers) else None
    next_payout = None
    if next_tier is not None:
        if rule.basis == AMOUNT:
            next_payout = payout(rule, next_tier.threshold, qty_text=qty_text)
        elif total > 0:  # the same average price, exactly
            next_payout = payout(rule, next_tier.threshold, Fraction(amount * next_tier.threshold, total),
                                 qty_text=qty_text)
    return Standing(total=total, amount_fen=amount, tier=rule.tiers[idx] if idx is not None else None,
                    payout=payout(rule, total, amount, qty_text=qty_text), next_tier=next_tier,
                    gap=next_tier.threshold - total if next_tier else None, next_payout=next_payout)


@dataclass(frozen=True)
class Pace:
    """A period-to-date figure run on at its daily average to the whole period."""

    elapsed_days: int
    period_days: int
    per_day: Fraction
    projected: int          # rounded half up

    @property
    def complete(self) -> bool:
        return self.elapsed_days >= self.period_days


def pace(total: int, *, elapsed_days: int, period_days: int) -> Pace:
    """`total ÷ elapsed × period`, elapsed clamped to 1…period (a finished period projects itself)."""
    if period_days < 1:
        raise ValueError("a period has at least one day")
    elapsed = min(max(elapsed_days, 1), period_days)
    per_day = Fraction(total, elapsed)
    return Pace(elapsed, period_days, per_day, round_half_up(per_day * period_days))


def per_day_qty_text(per_day: Fraction) -> str:
    """A daily quantity with one decimal at most: `12.5`, `40`."""
    tenths = round_half_up(per_day * 10)
    whole, frac = divmod(tenths, 10)
    return f"{whole:,}" + (f".{frac}" if frac else "")
