"""Message in, replies out: dedupe → identity → conversation state or intent → handler.

Nothing raised below ever reaches a user as a stack trace: domain errors become their polite
sentence (handlers/texts.py), anything else is logged with a correlation id the user is given.
"""
from __future__ import annotations

import logging
import uuid
from typing import Awaitable, Callable

from services import conversation, identities, inbound
from services.errors import DomainError

from . import intents, slash, texts
from .context import Ctx, Deps
from .intents import Parsed
from .messages import InboundMessage, Reply

log = logging.getLogger("partnerbot.handlers")

IntentHandler = Callable[[Ctx, Parsed], Awaitable[list[Reply]]]
FlowStep = Callable[[Ctx, conversation.State], Awaitable[list[Reply] | None]]

# Later modules register here: intent → handler, and flow name → the step that takes the next message.
INTENTS: dict[str, IntentHandler] = {}
FLOWS: dict[str, FlowStep] = {}
UNBOUND_INTENTS = ("bind", "help")
Parser = Callable[[Ctx, str], Awaitable[Parsed]]


async def _default_parser(ctx: Ctx, text: str) -> Parsed:
    return intents.parse(text)


PARSER: list[Parser] = [_default_parser]


def intent(name: str):
    def deco(fn: IntentHandler) -> IntentHandler:
        INTENTS[name] = fn
        return fn
    return deco


def flow(name: str):
    def deco(fn: FlowStep) -> FlowStep:
        FLOWS[name] = fn
        return fn
    return deco


async def handle(deps: Deps, msg: InboundMessage) -> list[Reply]:
    """Handles one inbound message exactly once, in one transaction; a redelivery gets the first answer."""
    locale = deps.settings.app.locale
    try:
        return await _handle(deps, msg)
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("message %s/%s failed outside its handler (ref %s)", msg.channel, msg.message_id, ref)
        return [Reply(texts.t("oops", locale, ref=ref))]


async def _handle(deps: Deps, msg: InboundMessage) -> list[Reply]:
    uow = deps.uow()
    async with uow:
        if msg.message_id and not await inbound.claim(uow, channel=msg.channel, message_id=msg.message_id):
            prior = await inbound.replies_for(uow, channel=msg.channel, message_id=msg.message_id)
            return [Reply.from_json(r) for r in prior or []]
        identity, actor = await identities.resolve(uow, channel=msg.channel, external_id=msg.user_id,
                                                   chat_id=msg.chat_id, display_name=msg.display_name)
        ctx = Ctx(deps, msg, identity, actor, message_uow=uow)
        try:
            async with uow.session.begin_nested():
                replies = await _route(ctx)
        except DomainError as exc:
            replies = [Reply(texts.error_text(exc, ctx.locale))]
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("message %s/%s failed (ref %s)", msg.channel, msg.message_id, ref)
            replies = [Reply(texts.t("oops", ctx.locale, ref=ref))]
        if msg.message_id:
            await inbound.set_replies(uow, channel=msg.channel, message_id=msg.message_id,
                                      replies=[r.to_json() for r in replies])
        await uow.commit()
    return replies


async def _route(ctx: Ctx) -> list[Reply]:
    text = ctx.msg.text or ""
    if ctx.actor is not None:
        state = await conversation.load(ctx.uow(), identity_id=ctx.identity.id)
        if state is not None and state.flow in FLOWS:
            replies = await FLOWS[state.flow](ctx, state)
            if replies is not None:  # None: the step let the message through to normal routing
                return replies
        cmd = intents.slash(text)
        if cmd is not None:
            return await slash.run(ctx, *cmd)
    parsed = await PARSER[-1](ctx, text)
    if ctx.actor is None and parsed.intent not in UNBOUND_INTENTS:
        return [Reply(ctx.t("unbound"))]
    handler = INTENTS.get(parsed.intent) or INTENTS["unknown"]
    return await handler(ctx, parsed)
