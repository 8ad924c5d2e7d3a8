"""报备: claim a customer (read back, then 确认), 我的报备, and the claim commands that carry a
claim number — 审批 12 通过|驳回|退回 [理由] (and the buttons 通过 #12 …), 延期 12, 同意延期 #12,
释放 12. Those are read by a small parser in front of the router's (they are not §8.3 intents).

    FLOW "claim"
      ask_customer → the customer's name (phone and credit code optional)  → read back
      confirm      → 确认 submits · 取消 drops it · anything else is a new message
    FLOW "claim_reason"
      ask_reason   → the reason of a 驳回/退回 pressed without one → decide · 取消 drops it
"""
from __future__ import annotations

import re

from services import claims as claims_service
from services import conversation

from . import claims_text as T
from . import router, understand  # noqa: F401  (understand registers its parser before ours)
from .context import Ctx
from .intents import Parsed, command_word, normalize
from .messages import Reply
from .parsing.claims import parse_claim
from .router import flow, intent

FLOW, REASON_FLOW = "claim", "claim_reason"
VERBS = {"通过": "approve", "批准": "approve", "同意": "approve", "approve": "approve", "approved": "approve",
         "驳回": "reject", "拒绝": "reject", "reject": "reject", "退回": "return", "return": "return"}
_VERB = "|".join(sorted(VERBS, key=len, reverse=True))
_NUM = r"#?\s*(?P<id>\d{1,9})"
_REST = r"(?:\s*[,，:：;；]?\s*(?P<reason>.*))?$"
PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("claim_extension_decide", re.compile(rf"^(?P<verb>{_VERB})\s*(?:延期|extension)\s*{_NUM}{_REST}", re.I)),
    ("claim_extension_decide", re.compile(rf"^(?:延期|extension)\s*{_NUM}\s+(?P<verb>{_VERB}){_REST}", re.I)),
    ("claim_extend", re.compile(rf"^(?:申请延期|延期|extend)\s*(?:报备)?\s*{_NUM}\s*$", re.I)),
    ("claim_release", re.compile(rf"^(?:释放|release)\s*(?:报备)?\s*{_NUM}\s*$", re.I)),
    ("claim_decide", re.compile(rf"^(?:审批|审核|decide)\s*(?:报备)?\s*{_NUM}\s*(?P<verb>{_VERB}){_REST}", re.I)),
    ("claim_decide", re.compile(rf"^(?P<verb>{_VERB})\s*(?:报备)?\s*#\s*(?P<id>\d{{1,9}}){_REST}", re.I)),
    ("claim_decide", re.compile(rf"^(?:审批|审核|decide)\s*(?:报备)?\s*{_NUM}\s*$", re.I)),  # no verb: usage
)


def claim_command(text: str) -> Parsed | None:
    """`审批 12 驳回 重复报备` → Parsed("claim_decide", …, {claim_id: 12, decision: "reject", reason: …})."""
    norm = normalize(text)
    for name, pattern in PATTERNS:
        m = pattern.match(norm)
        if m:
            groups = m.groupdict()
            fields = {"claim_id": int(m.group("id")), "reason": (groups.get("reason") or "").strip()}
            if groups.get("verb"):
                fields["decision"] = VERBS[groups["verb"].lower()]
            return Parsed(name, norm, fields)
    return None


_next_parser = router.PARSER[-1]  # the free-text parser (handlers/understand.py, imported above)


async def parse_with_claim_commands(ctx: Ctx, text: str) -> Parsed:
    """Claim commands first, then the free-text parser."""
    return claim_command(text) or await _next_parser(ctx, text)


router.PARSER.append(parse_with_claim_commands)


def _key(ctx: Ctx) -> str:
    return f"{ctx.msg.channel}:{ctx.msg.message_id or ctx.identity.id}"


@intent("claim")
async def start(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """`报备 NAME [phone] [USCC]`: checks the input and reads it back, or asks for the name."""
    f = parsed.fields if "customer" in parsed.fields else parse_claim(parsed.rest)
    claims_service.require_claimant(ctx.actor)
    if not f.get("customer"):
        phone, uscc = claims_service.clean_contact(phone=f.get("phone"), uscc_code=f.get("uscc"))
        await conversation.save(ctx.uow(), identity_id=ctx.identity.id, flow=FLOW, step="ask_customer",
                                data={"phone": phone, "uscc": uscc})
        return [Reply(T.ask_customer(ctx))]
    return await _read_back(ctx, f["customer"], f.get("phone"), f.get("uscc"))


async def _read_back(ctx: Ctx, customer: str, phone: str | None, uscc: str | None) -> list[Reply]:
    customer, phone, uscc = claims_service.clean_input(customer=customer, phone=phone, uscc_code=uscc)
    await conversation.save(ctx.uow(), identity_id=ctx.identity.id, flow=FLOW, step="confirm",
                            data={"customer": customer, "phone": phone, "uscc": uscc})
    return [Reply(T.read_back(ctx, customer, phone, uscc), buttons=T.buttons(ctx))]


@flow(FLOW)
async def step(ctx: Ctx, state: conversation.State) -> list[Reply] | None:
    """Takes the customer's name, or 确认/取消 at the read-back."""
    text = normalize(ctx.msg.text)
    word = command_word(text)
    if word and word.intent == "cancel" and not word.rest:
        await conversation.clear(ctx.uow(), identity_id=ctx.identity.id)
        return [Reply(ctx.t("cancelled"))]
    if state.step == "confirm":
        if not (word and word.intent == "confirm" and not word.rest):
            return None  # anything else is a new message; a new 报备 replaces this one
        d = state.data
        result = await claims_service.submit_claim(ctx.uow(), actor=ctx.actor, customer=d["customer"], phone=d["phone"],
                                                   uscc=d["uscc"], idempotency_key=_key(ctx))
        await conversation.clear(ctx.uow(), identity_id=ctx.identity.id)
        return [Reply(T.submitted(ctx, result))]
    if word or claim_command(text):
        return None  # a command instead of the name: handle it, keep the question
    meaning = await router.PARSER[-1](ctx, text)
    if meaning.intent not in ("unknown", "claim"):
        return None  # `報單 A100 30箱 …` is a sale, never a customer's name
    f = parse_claim(text)
    if not f.get("customer"):
        return [Reply(T.ask_customer(ctx))]
    return await _read_back(ctx, f["customer"], f.get("phone") or state.data.get("phone"),
                            f.get("uscc") or state.data.get("uscc"))


@intent("claims")
async def my_claims(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """我的报备: a partner's live claims; for a manager, what awaits its decision."""
    rows = await claims_service.my_claims(ctx.uow(), actor=ctx.actor)
    return [Reply(T.listing(ctx, rows, deciding=not ctx.actor.is_partner_side))]


async def _guarded(ctx: Ctx, call) -> list[Reply]:
    """Runs a claim change; a claim in the wrong state gets its own sentence."""
    try:
        return await call()
    except (claims_service.ClaimState, claims_service.ExtensionPending) as exc:
        return [Reply(T.state_error(ctx, exc))]


@intent("claim_decide")
async def decide(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """审批 12 通过|驳回|退回 [理由]; a 驳回/退回 without a reason asks for one first."""
    f = parsed.fields
    if "decision" not in f:
        return [Reply(T.decide_usage(ctx, f["claim_id"]))]

    async def go() -> list[Reply]:
        if f["decision"] != "approve" and not f["reason"]:
            await claims_service.decidable(ctx.uow(), actor=ctx.actor, claim_id=f["claim_id"])
            await conversation.save(ctx.uow(), identity_id=ctx.identity.id, flow=REASON_FLOW, step="ask_reason",
                                    data={"claim_id": f["claim_id"], "decision": f["decision"]})
            return [Reply(T.ask_reason(ctx, f["claim_id"], f["decision"]))]
        info = await claims_service.decide(ctx.uow(), actor=ctx.actor, claim_id=f["claim_id"],
                                           decision=f["decision"], reason=f["reason"])
        return [Reply(T.decided(ctx, info))]
    return await _guarded(ctx, go)


@flow(REASON_FLOW)
async def reason_step(ctx: Ctx, state: conversation.State) -> list[Reply] | None:
    """The reason for a 驳回/退回; 取消 drops it; another command goes through and drops it too."""
    text = normalize(ctx.msg.text)
    word = command_word(text)
    await conversation.clear(ctx.uow(), identity_id=ctx.identity.id)
    if word and word.intent == "cancel" and not word.rest:
        return [Reply(ctx.t("cancelled"))]
    if (word and not word.rest) or claim_command(text) or text.startswith("/"):
        return None  # 我的报备, another button, a slash-command: handled as such, the question dropped
    d = state.data

    async def go() -> list[Reply]:
        info = await claims_service.decide(ctx.uow(), actor=ctx.actor, claim_id=d["claim_id"],
                                           decision=d["decision"], reason=text)
        return [Reply(T.decided(ctx, info))]
    return await _guarded(ctx, go)


@intent("claim_extend")
async def extend(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """延期 12: the partner asks for more protection."""
    async def go() -> list[Reply]:
        info = await claims_service.request_extension(ctx.uow(), actor=ctx.actor, claim_id=parsed.fields["claim_id"])
        return [Reply(T.extension_requested(ctx, info))]
    return await _guarded(ctx, go)


@intent("claim_extension_decide")
async def decide_extension(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """同意延期 #12 / 拒绝延期 #12 (or 延期 12 同意): a manager decides an extension."""
    f = parsed.fields
    decision = "approve" if f["decision"] == "approve" else "reject"

    async def go() -> list[Reply]:
        info = await claims_service.decide_extension(ctx.uow(), actor=ctx.actor, claim_id=f["claim_id"],
                                                     decision=decision, reason=f["reason"])
        return [Reply(T.extension_decided(ctx, info, decision == "approve"))]
    return await _guarded(ctx, go)


@intent("claim_release")
async def release(ctx: Ctx, parsed: Parsed) -> list[Reply]:
    """释放 12: the partner gives the customer up."""
    async def go() -> list[Reply]:
        info = await claims_service.release(ctx.uow(), actor=ctx.actor, claim_id=parsed.fields["claim_id"])
        return [Reply(T.released(ctx, info))]
    return await _guarded(ctx, go)
