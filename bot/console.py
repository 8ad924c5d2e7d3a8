"""The console channel: chat in a terminal (`partnerbot console`) and play transcripts
(`partnerbot replay`, DESIGN §8.5). Messages go through the same handlers as every platform;
pushes go through the outbox and the dispatcher to a recording or console sink."""
from __future__ import annotations

import json
import shlex
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, TextIO

from handlers.all import Deps, handle
from handlers.messages import InboundMessage, Reply
from services import dispatcher, identities
from services.errors import DomainError

from .senders import RecordingSink, recording_senders


class ReplayError(Exception):
    """A transcript line that cannot be played; the message names the line."""


def make_deps(runtime) -> Deps:
    from .jobcontrol import JobControl

    return Deps(uow=runtime.uow, settings=runtime.settings, jobs=JobControl(runtime))


@dataclass
class Step:
    line: int
    who: str | None
    text: str
    replies: list[dict] = field(default_factory=list)
    pushes: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"line": self.line, "who": self.who, "text": self.text, "replies": self.replies,
                "pushes": self.pushes}


class Replay:
    """Plays a transcript against a runtime whose clock it sets (`!now`)."""

    def __init__(self, runtime, *, base_dir: Path, importer: Callable | None = None):
        self.runtime = runtime
        self.deps = make_deps(runtime)
        self.base_dir = base_dir
        self.importer = importer
        self.sink = RecordingSink()
        self.senders = recording_senders(self.sink)
        self.run_id = uuid.uuid4().hex[:8]

    async def play(self, lines: list[str]):
        """Yields one Step per input line that is not blank or a comment."""
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            step = await self.line(number, line.strip())
            self.runtime.clock.advance(seconds=1)  # each line happens a moment after the one before
            yield step

    async def line(self, number: int, line: str) -> Step:
        if line.startswith("!"):
            step = Step(number, None, line)
            step.replies = [r.to_json() for r in await self._directive(number, line)]
        else:
            who, sep, text = line.partition(">")
            if not sep or not who.strip() or " " in who.strip():
                raise ReplayError(f"line {number}: expected `name> message` or a `!directive`")
            step = Step(number, who.strip(), text.strip())
            msg = InboundMessage(channel="console", user_id=step.who, chat_id=step.who, text=step.text,
                                 message_id=f"replay-{self.run_id}-{number}", display_name=step.who)
            step.replies = [r.to_json() for r in await handle(self.deps, msg)]
            await self.deps.jobs.settle()  # a `/jobs run` shows its result under its line
        step.pushes = await self.deliver()
        return step

    async def deliver(self) -> list[dict]:
        """Delivers the outbox (the merge window closes now; quiet hours still hold)."""
        self.sink.records.clear()
        await dispatcher.drain(self.runtime.uow, self.senders, worker=f"replay-{self.run_id}", flush=True)
        return list(self.sink.records)

    async def _directive(self, number: int, line: str) -> list[Reply]:
        try:
            parts = shlex.split(line[1:])
        except ValueError as exc:
            raise ReplayError(f"line {number}: {exc}") from exc
        name, args = parts[0].lower(), parts[1:]
        try:
            if name == "now" and len(args) == 1:
                self.runtime.clock.set(datetime.fromisoformat(args[0]))
                return []
            if name == "bind" and len(args) == 3:
                return [await self._bind(*args)]
            if name == "import" and len(args) == 2:
                if self.importer is None:
                    raise ReplayError(f"line {number}: imports are not available here")
                s = await self.importer(self.runtime, args[0], self.base_dir / args[1])
                return [Reply(f"imported {s.kind}: {s.created} created, {s.updated} updated, {s.unchanged} unchanged")]
            if name == "job" and len(args) == 1:
                return [Reply(await self.deps.jobs.run(args[0]))]
        except (DomainError, ValueError, KeyError) as exc:
            raise ReplayError(f"line {number}: {line}: {exc}") from exc
        raise ReplayError(f"line {number}: unknown directive {line!r} "
                          "(use !now ISO, !bind NAME SCOPE ROLE, !import KIND FILE, !job NAME)")

    async def _bind(self, who: str, scope: str, role: str) -> Reply:
        partner = scope if role in ("member", "owner") else None
        regions = tuple(scope.split(";")) if role == "manager" else ()
        actor = await identities.bind_directly(self.runtime.uow(), channel="console", external_id=who,
                                               role=role, partner_code=partner, regions=regions)
        return Reply(f"{who} = {actor.role} {partner or ';'.join(regions) or ''}".rstrip())


def write_text(step: Step, out: TextIO) -> None:
    """Echoes the input line, then indents replies and pushes under it."""
    out.write(f"{step.who}> {step.text}\n" if step.who else f"{step.text}\n")
    for reply in step.replies:
        for i, text_line in enumerate(reply["text"].splitlines() or [""]):
            out.write(("    " if i else "  < ") + text_line + "\n")
        if reply.get("buttons"):
            out.write("    [" + "] [".join(reply["buttons"]) + "]\n")
    for push in step.pushes:
        head = f"  ⇒ {push['channel']}:{push['target']} "
        for i, text_line in enumerate(push["text"].splitlines() or [""]):
            out.write((head if i == 0 else " " * len(head)) + text_line + "\n")


def write_json(step: Step, out: TextIO) -> None:
    out.write(json.dumps(step.to_json(), ensure_ascii=False) + "\n")
