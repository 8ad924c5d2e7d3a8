"""The router's parser: corrections (`改成25箱`, `价格改成27`) first, then the free-text parser
over the current catalog, in the business day of the configured timezone."""
from __future__ import annotations

import asyncio
import re

from . import router
from .catalog_cache import MATCHERS
from .context import Ctx
from .intents import Parsed, normalize
from .parsing import intent as said, parse_message
from .parsing.fold import simplified
from .parsing.numbers import NUMBER, to_decimal

CORRECT = re.compile(rf"^(?P<sku>[A-Za-z][A-Za-z0-9\-]*)?\s*(?:数量)?(?:改成|改为|更正为|改)\s*(?P<n>{NUMBER})\s*"
                     r"(?P<u>[箱件瓶支罐听台套个]|cases?|bottles?|units?)?\s*$", re.I)
CORRECT_PRICE = re.compile(rf"^(?P<sku>[A-Za-z][A-Za-z0-9\-]*)?\s*(?:价格|单价|价钱)\s*(?:改成|改为|更正为|改)\s*"
                           rf"(?P<n>{NUMBER})\s*(?:元|块)?\s*(?:/|每|一)?\s*(?P<u>[箱件瓶支罐听台套个])?\s*$", re.I)


def today(ctx: Ctx):
    return ctx.uow().now().astimezone(ctx.deps.settings.tz).date()


def changes_the_last_sale(text: str) -> bool:
    """`改成5箱`, `价格改成27`, `撤销`: a correction or an undo, told without reading the whole message."""
    norm = normalize(text)
    return bool(CORRECT.match(norm) or CORRECT_PRICE.match(norm)) or said.command(simplified(norm))[0] == "undo"


async def understand(ctx: Ctx, text: str) -> Parsed:
    norm = normalize(text)
    m = CORRECT_PRICE.match(norm)
    if m and to_decimal(m.group("n")) is not None:
        return Parsed("correct", norm, {"sku": (m.group("sku") or "").upper() or None, "price": to_decimal(m.group("n")),
                                        "unit": m.group("u")})
    m = CORRECT.match(norm)
    if m and to_decimal(m.group("n")) is not None:
        return Parsed("correct", norm, {"sku": (m.group("sku") or "").upper() or None, "qty": to_decimal(m.group("n")),
                                        "unit": m.group("u")})
    matcher = await MATCHERS.get(ctx.uow())
    meaning = await asyncio.to_thread(parse_message, norm, matcher, today(ctx)) if len(norm) > 200 \
        else parse_message(norm, matcher, today(ctx))
    return Parsed(meaning["intent"], norm, meaning)


router.PARSER.append(understand)
