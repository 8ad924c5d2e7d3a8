"""Senders the dispatcher hands outbound messages to, by channel.

`RecordingSink` and `ConsoleSink` stand in for every platform (replay, console, tests,
`jobs run`, and `serve` until platform credentials are configured). Platform senders plug
into the same map in `open_senders`.
"""
from __future__ import annotations

import sys
from contextlib import AsyncExitStack
from typing import TextIO

from rich.console import Console

from services.dispatcher import SendError, Sender
from services.outbox import OutboundMessage

CHANNELS = ("console", "wechat", "wecom", "wecom_robot", "telegram")


def shown_target(msg: OutboundMessage) -> str:
    """The target as a person may see it: a group's region rather than its webhook address."""
    return getattr(msg, "label", "") or msg.target


class RecordingSink:
    """Collects every message as a dict, in order; one instance can serve every channel."""

    local = True  # nothing leaves the process: no rate limit, one send at a time in order

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.messages: list[OutboundMessage] = []

    async def send(self, msg: OutboundMessage) -> None:
        """Records the message."""
        record = {"channel": msg.channel, "target": shown_target(msg), "text": msg.text}
        if msg.buttons:
            record["buttons"] = list(msg.buttons)
        if msg.image_png:
            record["image"] = f"image/png, {len(msg.image_png)} bytes"
        self.records.append(record)
        self.messages.append(msg)


class ConsoleSink:
    """Prints `[push → channel:target] text`; with `only_target`, refuses other targets (they stay queued)."""

    local = True

    def __init__(self, out: Console | TextIO | None = None, *, only_target: str | None = None) -> None:
        if isinstance(out, Console):
            self.console = out
        else:
            self.console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True)
        self.only_target = only_target

    async def send(self, msg: OutboundMessage) -> None:
        """Prints the message, its buttons and a note of its image."""
        if self.only_target is not None and msg.target != self.only_target:
            raise SendError(f"this console shows pushes for {self.only_target} only", retry_after=60)
        lines = [f"[push → {msg.channel}:{shown_target(msg)}] {msg.text}"]
        if msg.buttons:
            lines.append("  " + "  ".join(f"[{b}]" for b in msg.buttons))
        if msg.image_png:
            lines.append(f"  (image/png, {len(msg.image_png)} bytes)")
        self.console.print("\n".join(lines), markup=False, highlight=False)


def recording_senders(sink: Sender) -> dict[str, Sender]:
    """The senders map with `sink` serving every channel."""
    return {channel: sink for channel in CHANNELS}


async def open_senders(runtime, stack: AsyncExitStack, *, fallback: Sender) -> dict[str, Sender]:
    """Senders for `runtime`: platform senders where configured (closed by `stack`), `fallback` for the rest.

    Each platform module (bot/platforms/) with `open_sender` builds its client, registers its close
    on `stack` and returns its sender, or None when the platform is not configured.
    """
    from . import platforms

    senders = recording_senders(fallback)
    for module in platforms.modules():
        if hasattr(module, "open_sender"):
            sender = await module.open_sender(runtime, stack)
            if sender is not None:
                senders[module.CHANNEL] = sender
    return senders
