"""`partnerbot`: the command line (DESIGN §8.1). Commands live in bot/cli_*.py modules,
each registering on `app`; this module holds what they share."""
from __future__ import annotations

import asyncio
import logging
import sys
from contextlib import asynccontextmanager

import typer
from rich.console import Console

from services.config import ConfigError, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="partnerbot: the channel-network assistant")
db_app = typer.Typer(no_args_is_help=True, help="Database schema")
app.add_typer(db_app, name="db")
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    """Prints a message that names the problem and exits non-zero."""
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def settings_or_exit():
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc), 2)


@asynccontextmanager
async def open_runtime(clock=None, upgrade: bool | None = None):
    from bot.bootstrap import build_runtime

    rt = await build_runtime(settings_or_exit(), clock=clock, upgrade=upgrade)
    try:
        yield rt
    finally:
        await rt.dispose()


def run(coro):
    return asyncio.run(coro)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to head."""
    async def go():
        async with open_runtime(upgrade=True) as rt:
            from storage import migrate
            err.print(f"database at revision {await migrate.current(rt.engine)}")
    run(go())


class ProgressBar:
    """A rich progress bar on stderr, drawn only once the work turns out to be long
    (`threshold` steps); callable as a `progress(done, total)` callback."""

    def __init__(self, label: str, *, threshold: int):
        self.label, self.threshold = label, threshold
        self.progress = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        if self.progress is None:
            if total < self.threshold:
                return
            self.progress = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), console=err, transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        self.progress.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Registration by import: each module adds its commands to `app`.
    from bot import cli_commands  # noqa: F401
    try:
        app()
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)
