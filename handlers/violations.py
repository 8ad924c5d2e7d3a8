"""Violations in chat: 申诉 12 理由 (a partner appeals), 裁定 12 撤销|维持 [理由] (a manager decides;
the buttons send the same text), 我的违规 (a partner's violations; a manager's waiting ones). Read
by a small parser in front of the router's, like the claim commands (they are not §8.3 intents).
"""
from __future__ import annotations

import re

from services import violation_appeals as appeals

from . import claims, router  # noqa: F401  (claims registers its parser before ours)
from . import violations_text as T
from .context import Ctx
from .intents import Parsed, normalize
from .messages import Reply
from .router import intent

CLEAR = ("撤销", "撤消", "撤回", "免除", "清除", "通过", "同意", "clear", "cleared", "accept", "accepted")
UPHOLD = ("维持", "驳回", "拒绝", "确认", "uphold", "upheld", "reject", "rejected")
VERBS = {**{w: "clear" for w in CLEAR}, **{w: "uphold" for w in UPHOLD}}
_VERB = "|".join(sorted(VERBS, key=len, reverse=True))
_ID = r"(?:违规)?\s*#?\s*(?P<id>\d{1,9})"
_REST = r"(?:\s*[,，:：;；]?\s*(?P<reason>.*))?$"
APPEAL = re.compile(r"^(?:申诉|appeal)(?![a-z])\s*(?::|：)?\s*(?P<body>.*)$", re.I)
APPEAL_BODY = re.compile(rf"^{_ID}{_REST}", re.I)
RESOLVE = re.compile(r"^(?:裁定|裁决|resolve)(?![a-z])\s*(?::|：)?\s*(?P<body>.*)$", re.I)
RESOLVE_BODY = re.compile(rf"^{_ID}\s*(?P<verb>{_VERB})(?![a-z]){_REST}", re.I)
LIST = re.compile(r"^(?:我的违规|违规记录|违规列表|违规|violations)$", re.I)


def violation_command(text: str) -> Parsed | None:
    """`申诉 12 客户是团购` → Parsed("violation_appeal", …, {violation_id: 12, reason: …}); a malformed
    申诉/裁定 is still its command, without `violation_id` (or `decision`), so it gets its usage."""
    norm = normalize(text)
    if LIST.match(norm):
        return Parsed("violations", norm)
    m = APPEAL.match(norm)
    if m:
        body = APPEAL_BODY.match(m.group("body"))
        fields = {"violation_id": int(body.group("id")), "reason": (body.group("reason") or "").strip()} if body else {}
        return Parsed("violation_appeal", norm, fields)
    m = RESOLVE.match(norm)
    if m:
        body = RESOLVE_BODY.match(m.group("body"))
        fields = {}
        if body:
            fields = {"violation_id": int(body.group("id")), "decision": VERBS[body.group("verb").lower()],
                      "reason": (body.group("reason") or "").strip()}
        return Parsed("violation_resolve", norm, fields)
    return None


_next_parser = router.PARSER[-1]


async def parse_with_violation_commands(ctx: Ctx, text: str) -> Parsed:
    """Violation commands first, then the parsers before ours."""
    return violation_command(text) or await _next_parser(ctx, text)


router.PARSER.append(parse_with_violation_commands)


async def _guarded(ctx: Ctx, call) -> list[Reply]:
    try:
        return await call()
    except appeals.ViolationState as exc:
        return [Reply(T.state_error(ctx, exc))]


@intent("violation_appeal")
async def appeal(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """申诉 12 理由: the partner appeals its own open violation."""
    f = parsed.fields
    if "violation_id" not in f or not f["reason"]:
        return [Reply(T.appeal_usage(ctx, f.get("violation_id")))]

    async def go() -> list[Reply]:
        info = await appeals.appeal(ctx.uow(), actor=ctx.actor, violation_id=f["violation_id"], reason=f["reason"])
        return [Reply(T.appealed(ctx, info))]
    return await _guarded(ctx, go)


@intent("violation_resolve")
async def resolve(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """裁定 12 撤销|维持 [理由]: a manager of the partner's region decides."""
    f = parsed.fields
    if "decision" not in f:
        return [Reply(T.resolve_usage(ctx))]

    async def go() -> list[Reply]:
        info = await appeals.resolve(ctx.uow(), actor=ctx.actor, violation_id=f["violation_id"],
                                     decision=f["decision"], reason=f["reason"])
        return [Reply(T.resolved(ctx, info))]
    return await _guarded(ctx, go)


@intent("violations")
async def listing(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """我的违规: a partner's violations; for a manager, those waiting in its regions."""
    rows = await appeals.list_violations(ctx.uow(), actor=ctx.actor)
    return [Reply(T.listing(ctx, rows, deciding=not ctx.actor.is_partner_side))]
