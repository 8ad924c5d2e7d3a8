"""Admin slash-commands: a small registry; each command answers `/x help` with its syntax."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Awaitable, Callable

from services.errors import NotAllowed

from .context import Ctx
from .messages import Reply

Step = Callable[[Ctx, list[str]], Awaitable[list[Reply]]]


@dataclass
class SlashCommand:
    name: str
    help: dict[str, str]                  # locale → syntax text
    subs: dict[str, tuple[Step, tuple[str, ...]]] = field(default_factory=dict)
    fallback: tuple[Step, tuple[str, ...]] | None = None  # takes `/x ARG …` when ARG is no subcommand

    def sub(self, name: str, *, roles: tuple[str, ...] = ("admin",)):
        """Registers a subcommand allowed for `roles` (admins always)."""
        def deco(fn: Step) -> Step:
            self.subs[name] = (fn, roles)
            return fn
        return deco


COMMANDS: dict[str, SlashCommand] = {}


def command(name: str, *, help_zh: str, help_en: str) -> SlashCommand:
    cmd = SlashCommand(name, {"zh-CN": help_zh, "en": help_en})
    COMMANDS[name] = cmd
    return cmd


async def run(ctx: Ctx, name: str, args: list[str]) -> list[Reply]:
    """Runs `/name args…`; help when asked or when the subcommand is unknown."""
    cmd = COMMANDS.get(name)
    if cmd is None:
        names = " ".join(f"/{n}" for n in sorted(COMMANDS))
        return [Reply(ctx.t("no_slash", name=name, names=names))]
    lang = "en" if ctx.locale.startswith("en") else "zh-CN"
    if not args or args[0].lower() in ("help", "帮助", "?"):
        return [Reply(cmd.help[lang])]
    if args[0].lower() in cmd.subs:
        (step, roles), args = cmd.subs[args[0].lower()], args[1:]
    elif cmd.fallback is not None:
        step, roles = cmd.fallback
    else:
        return [Reply(cmd.help[lang])]
    if not (ctx.actor.is_admin or ctx.actor.role in roles):
        raise NotAllowed(what="command", command=name)
    return await step(ctx, args)
