"""`partnerbot outbox list`: undelivered messages (dead or waiting) and why."""
from __future__ import annotations

from enum import Enum

import typer
from rich.console import Console
from rich.table import Table

from .cli import app, open_runtime, run

outbox_app = typer.Typer(no_args_is_help=True, help="Outbound messages not delivered (yet)")
app.add_typer(outbox_app, name="outbox")


class Status(str, Enum):
    dead = "dead"
    pending = "pending"


@outbox_app.command("list")
def outbox_list(status: Status | None = typer.Option(None, "--status", help="dead or pending (default: both)"),
                limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="rows to show, newest first")) -> None:
    """Undelivered messages, newest first: where each goes, tries, next try and the last error."""
    from services import outbox

    out = Console(highlight=False, soft_wrap=False)

    async def go():
        async with open_runtime() as rt:
            statuses = (status.value,) if status else ("dead", "pending")
            rows = await outbox.undelivered(rt.uow(), statuses=statuses, limit=limit)
            tz = rt.settings.tz
            if not rows:
                out.print(f"no {' or '.join(statuses)} messages", markup=False)
                return
            table = Table(title=f"outbox: {' + '.join(statuses)} (newest first, at most {limit})")
            for name in ("id", "status", "channel", "target", "kind", "tries", "queued", "next try",
                         "text", "why"):
                table.add_column(name, overflow="fold")
            for r in rows:
                why = r.last_error or ("waiting (merge window or quiet hours)" if r.status == "pending" else "")
                table.add_row(str(r.id), r.status, r.channel, r.target, r.kind, str(r.attempts),
                              f"{r.created_at.astimezone(tz):%m-%d %H:%M}",
                              f"{r.next_attempt_at.astimezone(tz):%m-%d %H:%M}" if r.status == "pending" else "",
                              _short(r.text), why)
            out.print(table)
    run(go())


def _short(text: str, width: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
