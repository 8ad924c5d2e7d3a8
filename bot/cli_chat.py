"""`partnerbot console`, `partnerbot replay`, `partnerbot invite`."""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path

import typer
from rich.console import Console

from .cli import app, fail, open_runtime, run, settings_or_exit


@app.command()
def console(as_: str = typer.Option("console", "--as", help="console identity to chat as")) -> None:
    """Chat in the terminal as a console identity (pushes for it are printed too)."""
    from handlers.all import handle
    from handlers.messages import InboundMessage
    from services import dispatcher

    from .console import make_deps
    from .senders import ConsoleSink

    out = Console(highlight=False)

    async def go():
        async with open_runtime() as rt:
            deps = make_deps(rt)
            senders = {"console": ConsoleSink(out, only_target=as_)}
            out.print(f"[dim]partnerbot console — 你是 {as_}。输入「帮助」开始，Ctrl-D 退出。[/dim]")
            while True:
                try:
                    text = await asyncio.to_thread(input, f"{as_}> ")
                except (EOFError, KeyboardInterrupt):
                    out.print()
                    return
                if not text.strip():
                    continue
                msg = InboundMessage(channel="console", user_id=as_, chat_id=as_, text=text,
                                     message_id=f"console-{uuid.uuid4().hex}", display_name=as_)
                for reply in await handle(deps, msg):
                    out.print(reply.text)
                    if reply.buttons:
                        out.print("[dim]" + "  ".join(f"[{b}]" for b in reply.buttons) + "[/dim]")
                await dispatcher.drain(rt.uow, senders, worker=f"console-{as_}", targets={("console", as_)})
    run(go())


def _explicit_database() -> bool:
    if os.environ.get("PARTNERBOT_DATABASE_URL") or os.environ.get("PARTNERBOT_DATABASE__URL"):
        return True
    return bool(os.environ.get("PARTNERBOT_CONFIG")) and "url" in settings_or_exit().database.model_fields_set


@app.command()
def replay(file: Path = typer.Argument(..., help="transcript (DESIGN §8.5)"),
           json_: bool = typer.Option(False, "--json", help="one JSON object per input line")) -> None:
    """Play a transcript and print every reply and push. Without a configured database it runs on a
    throwaway SQLite database holding the demo catalog and partners (no users)."""
    from storage.uow import FixedClock

    from .console import Replay, ReplayError, write_json, write_text

    if not file.is_file():
        fail(f"transcript {file} not found")
    lines = file.read_text(encoding="utf-8").splitlines()

    async def go(tmp: str | None):
        from services import demo

        if tmp:
            os.environ["PARTNERBOT_DATABASE_URL"] = f"sqlite:///{tmp}/replay.db"
        async with open_runtime(clock=FixedClock()) as rt:
            if tmp:
                await demo.load_demo(rt.uow(), users=False)
            player = Replay(rt, base_dir=file.parent, importer=_import_for_replay)
            write = write_json if json_ else write_text
            async for step in player.play(lines):
                write(step, sys.stdout)
                sys.stdout.flush()

    try:
        if _explicit_database():
            run(go(None))
        else:
            with tempfile.TemporaryDirectory() as tmp:
                run(go(tmp))
    except ReplayError as exc:
        fail(str(exc))


async def _import_for_replay(runtime, kind: str, path: Path):
    from services import imports
    from services.actors import SYSTEM

    return await imports.import_file(runtime.uow(), kind=kind, path=path, actor=SYSTEM)


@app.command()
def invite(partner: str = typer.Option(None, "--partner", help="partner code (member/owner)"),
           role: str = typer.Option(..., "--role", help="member | owner | manager | admin"),
           region: list[str] = typer.Option([], "--region", help="region prefix for a manager (repeatable)"),
           name: str = typer.Option("", "--name", help="the person's name")) -> None:
    """Print a single-use invite code."""
    from services import identities
    from services.actors import SYSTEM
    from services.errors import DomainError

    async def go():
        async with open_runtime() as rt:
            issued = await identities.create_invite(rt.uow(), actor=SYSTEM, role=role, partner_code=partner,
                                                    regions=tuple(region), user_name=name)
            print(issued.code)
            tz = rt.settings.tz
            Console(stderr=True).print(f"{issued.role} {issued.partner_code or ';'.join(issued.regions)} — "
                                       f"valid until {issued.expires_at.astimezone(tz):%Y-%m-%d %H:%M}, single use; "
                                       f"send `绑定 {issued.code}` / `bind {issued.code}` in chat")
    try:
        run(go())
    except DomainError as exc:
        from handlers.texts import error_text
        fail(error_text(exc, "en"))
