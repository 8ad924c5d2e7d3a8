"""Replies an adapter sends itself, right after handling a message: delivered once per inbound message.

`handle` makes a redelivered message run once and gives back its first replies; whether those replies
already went out is recorded here, so a redelivery (a webhook retried after a lost 200, a long poll
restarted before its offset was confirmed) sends nothing twice. Replies that could not go out at once
(flood control, an outage) are queued in the outbox, in the same transaction as the mark, for the
dispatcher to deliver with its retries and back-off.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import inbound, outbox

SUFFIX = "#sent"


@dataclass(frozen=True)
class PendingReply:
    """A reply not sent yet: its text, button texts and PNG image (base64)."""

    text: str
    buttons: tuple[str, ...] = ()
    image_b64: str | None = None


async def delivered(uow, *, channel: str, message_id: str) -> bool:
    """Whether the replies to this message already went out (or were queued)."""
    return await inbound.replies_for(uow, channel=channel, message_id=message_id + SUFFIX) is not None


async def settle(uow, *, channel: str, message_id: str, target: str, undelivered: Sequence[PendingReply] = ()) -> bool:
    """Marks the replies to this message delivered and queues `undelivered` to `target` (urgent: they
    answer the user, quiet hours do not hold them); False when it was settled already (nothing queued)."""
    async with uow:
        if not await inbound.claim(uow, channel=channel, message_id=message_id + SUFFIX):
            return False
        for reply in undelivered:
            outbox.enqueue(uow, channel=channel, target=target, text=reply.text, kind="reply", urgent=True,
                           buttons=reply.buttons, image_b64=reply.image_b64)
        await uow.commit()
    return True
