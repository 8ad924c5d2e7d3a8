"""The daily digest's chart: yesterday's sell-out by partner (bars, the day before as a faint marker)
and the top SKUs, as an 800×500 PNG a manager takes in at a glance.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state), in a worker
thread (`render`), with the CJK font shipped inside the `mplfonts` package — never a system font,
so a fresh machine renders the same picture. Every character drawn is checked against the font's
character map first: a missing glyph would be an empty box in the managers' group.
"""
from __future__ import annotations

import asyncio
import io
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text

from .digest_text import packs

if TYPE_CHECKING:
    from .digest import RegionDigest

FONT_FILES = ("NotoSansCJKsc-Regular.otf", "SimHei.ttf")   # in mplfonts' own fonts/ directory
PROBE = "江苏浙江日报昨日销售前日热销无报单元箱瓶¥0123456789,.+-（）·"
SIZE_PX = (800, 500)
DPI = 100
MAX_BARS = 8
BAR, MARK, SKU_BAR, INK, FAINT, ALERT = "#2f6db5", "#8d99a6", "#e08a2e", "#222222", "#6b7580", "#c0392b"


class MissingGlyphs(RuntimeError):
    """The chart would draw characters its font lacks (they would show as empty boxes)."""


def _font_dir() -> Path:
    import mplfonts  # the fonts ship inside the package

    return Path(mplfonts.__file__).parent / "fonts"


@lru_cache(maxsize=4)
def charmap(path: str) -> frozenset[int]:
    """The code points the font file has glyphs for."""
    return frozenset(FT2Font(path).get_charmap())


def missing_glyphs(text: str, path: str) -> str:
    """The characters of `text` (whitespace aside) the font at `path` has no glyph for, each once."""
    have = charmap(path)
    return "".join(dict.fromkeys(ch for ch in text if not ch.isspace() and ord(ch) not in have))


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """The path of the CJK font from mplfonts that has the digest's characters; asserts it does."""
    folder = _font_dir()
    for name in FONT_FILES:
        path = folder / name
        if path.is_file() and not missing_glyphs(PROBE, str(path)):
            return str(path)
    raise MissingGlyphs(f"no CJK font with the digest's glyphs in {folder} (looked for {', '.join(FONT_FILES)})")


def _yuan(fen: int) -> str:
    """`¥1,234` (or `¥1,234.50` when there are fen): money shown on a bar."""
    whole, cents = divmod(abs(fen), 100)
    return ("-" if fen < 0 else "") + (f"¥{whole:,}" if not cents else f"¥{whole:,}.{cents:02d}")


LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "供应链", "商贸", "贸易")
MIN_ROWS = 4                     # fewer bars than this keep their width; the panel does not fill up


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _partner_label(code: str, name: str) -> str:
    """`P001 南京冰泉`: the trade name without the legal form, short enough for the axis."""
    for suffix in LEGAL_FORMS:
        name = name.removesuffix(suffix)
    return f"{code} {_short(name, 6)}"


def _partners_panel(ax, d: RegionDigest, font: FontProperties, small: FontProperties) -> None:
    rows = list(d.partners[:MAX_BARS])
    rest = d.partners[MAX_BARS:]
    labels = [_partner_label(p.code, p.name) for p in rows]
    now = [p.amount_fen / 100 for p in rows]                       # float for plotting only
    before = [p.prev_amount_fen / 100 for p in rows]
    if rest:
        labels.append(f"其余 {len(rest)} 家")
        now.append(sum(p.amount_fen for p in rest) / 100)
        before.append(sum(p.prev_amount_fen for p in rest) / 100)
    ys = [y + max(MIN_ROWS - len(labels), 0) / 2 for y in range(len(labels))][::-1]
    top = max([*now, *before, 1.0])
    ax.barh(ys, now, height=0.6, color=BAR)
    ax.scatter(before, ys, marker="|", s=700, linewidths=3, color=MARK, alpha=0.8, zorder=3)
    fen = [p.amount_fen for p in rows] + ([sum(p.amount_fen for p in rest)] if rest else [])
    for y, x, f in zip(ys, now, fen):
        ax.text(x + top * 0.02, y, _yuan(f), va="center", fontproperties=small, color=INK)
    ax.set_yticks(ys, labels, fontproperties=font)
    ax.set_xlim(0, top * 1.32)
    ax.set_ylim(-0.7, max(len(labels), MIN_ROWS) - 0.3)
    ax.set_xticks([])
    ax.set_title("各经销商销售额（灰线为前日）", fontproperties=font, loc="left", color=INK)
    _plain(ax)


def _skus_panel(ax, d: RegionDigest, font: FontProperties, small: FontProperties) -> None:
    rows = list(d.skus)
    ys = [y + max(MIN_ROWS - len(rows), 0) / 2 for y in range(len(rows))][::-1]
    amounts = [s.amount_fen / 100 for s in rows]
    top = max([*amounts, 1.0])
    ax.barh(ys, amounts, height=0.6, color=SKU_BAR)
    for y, x, s in zip(ys, amounts, rows):
        ax.text(x + top * 0.03, y, f"{packs(s.qty, s)}\n{_yuan(s.amount_fen)}", va="center", fontproperties=small,
                color=INK, linespacing=1.1)
    ax.set_yticks(ys, [_short(f"{s.code} {s.name}", 10) for s in rows], fontproperties=small)
    ax.set_xlim(0, top * 1.7)
    ax.set_ylim(-0.7, max(len(rows), MIN_ROWS) - 0.3)
    ax.set_xticks([])
    ax.set_title(f"热销 TOP{len(rows)}", fontproperties=font, loc="left", color=INK)
    _plain(ax)


def _plain(ax) -> None:
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ticks = list(ax.get_yticks())
    if ticks:
        ax.spines["left"].set_bounds(min(ticks) - 0.45, max(ticks) + 0.45)
    ax.tick_params(axis="y", length=0)


def _chips(d: RegionDigest) -> str:
    """What needs a manager, top right: `乱价 1  窜货 1  断货 1  偏低 1  待审报备 1`."""
    counts = (("乱价", d.deviations.total), ("窜货", d.conflicts.total), ("断货", d.out), ("偏低", d.low),
              ("待审报备", d.pending_claims))
    return "   ".join(f"{name} {n}" for name, n in counts if n)


def draw(d: RegionDigest) -> Figure:
    """The digest's figure (not yet rendered)."""
    path = cjk_font()
    font, small = FontProperties(fname=path, size=11), FontProperties(fname=path, size=9)
    big = FontProperties(fname=path, size=15)
    fig = Figure(figsize=(SIZE_PX[0] / DPI, SIZE_PX[1] / DPI), dpi=DPI, facecolor="white")
    delta = d.amount_fen - d.prev_amount_fen
    head = f"{d.region} 日报 · {d.day.month}月{d.day.day}日"
    fig.text(0.03, 0.94, head, fontproperties=big, color=INK, va="center")
    summary = (f"销售 {_yuan(d.amount_fen)} · {d.sales} 单 · 较前日 {'+' if delta >= 0 else ''}{_yuan(delta)}"
               if not d.empty else f"昨日无报单 · 前日 {_yuan(d.prev_amount_fen)}")
    fig.text(0.03, 0.885, summary, fontproperties=font, color=FAINT, va="center")
    chips = _chips(d)
    if chips:
        fig.text(0.97, 0.94, chips, fontproperties=font, color=ALERT, va="center", ha="right")
    if d.skus:
        grid = fig.add_gridspec(1, 2, width_ratios=(1.55, 1), left=0.17, right=0.97, top=0.8, bottom=0.05, wspace=0.55)
        _partners_panel(fig.add_subplot(grid[0]), d, font, small)
        _skus_panel(fig.add_subplot(grid[1]), d, font, small)
    else:
        _partners_panel(fig.add_axes((0.17, 0.05, 0.78, 0.75)), d, font, small)
    return fig


def drawn_text(fig: Figure) -> str:
    """Every piece of text the figure draws (titles, tick labels, bar labels), joined."""
    return "\n".join(t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text())


def render_png(d: RegionDigest) -> bytes:
    """The digest's chart as PNG bytes; MissingGlyphs if any character drawn is not in the font."""
    fig = draw(d)
    lacking = missing_glyphs(drawn_text(fig), cjk_font())
    if lacking:
        raise MissingGlyphs(f"the font {Path(cjk_font()).name} has no glyph for {lacking!r}")
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()


async def render(d: RegionDigest) -> bytes:
    """render_png in a worker thread: drawing takes tens of milliseconds, off the event loop."""
    return await asyncio.to_thread(render_png, d)
