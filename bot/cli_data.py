"""`partnerbot import KIND FILE` and `partnerbot demo` (DESIGN §8.1)."""
from __future__ import annotations

from pathlib import Path

import typer

from bot.cli import ProgressBar, app, err, fail, open_runtime, run
from services import demo, imports
from services.actors import Actor
from services.errors import InvalidInput

CLI_ACTOR = Actor(user_id=None, name="cli", role="system", channel="cli")
BAR_FROM_STEPS = 2000  # a progress bar only for files of about a thousand rows or more


def _Bar(label: str) -> ProgressBar:
    return ProgressBar(label, threshold=BAR_FROM_STEPS)


@app.command("import")
def import_cmd(kind: str = typer.Argument(..., help="skus, partners, …"),
               file: Path = typer.Argument(..., help=".csv or .xlsx")) -> None:
    """Import a .csv or .xlsx file: all rows or none, every bad row named."""
    valid = imports.kind_names()
    if kind not in valid:
        fail(f"unknown import kind {kind!r}; valid kinds: {', '.join(valid)}", 2)
    if not file.is_file():
        fail(f"file not found: {file}", 2)
    if file.suffix.lower() not in imports.SUPPORTED:
        fail(f"unsupported file type {file.suffix or file.name!r} for {file}; use .csv or .xlsx", 2)

    async def go() -> imports.ImportSummary:
        bar = _Bar(f"importing {kind}")
        try:
            async with open_runtime() as rt:
                return await imports.import_file(rt.uow(), kind=kind, path=file, actor=CLI_ACTOR, progress=bar)
        finally:
            bar.close()

    try:
        summary = run(go())
    except imports.ImportFailed as exc:
        for problem in exc.errors:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        fail(f"{len(exc.errors)} bad row(s) in {file.name}; nothing was imported", 1)
    except InvalidInput as exc:
        fail(exc.facts.get("reason", str(exc)), 1)
    typer.echo(f"imported {kind} from {file}: {summary.total} rows, {summary.created} created, "
               f"{summary.updated} updated, {summary.unchanged} unchanged")


@app.command("demo")
def demo_cmd() -> None:
    """Load demo data: catalog, partners and console users (idempotent)."""
    async def go() -> demo.DemoSummary:
        async with open_runtime() as rt:
            return await demo.load_demo(rt.uow())

    summary = run(go())
    s, p = summary.skus, summary.partners
    typer.echo(f"demo loaded: skus {s.created} created, {s.updated} updated, {s.unchanged} unchanged; "
               f"partners {p.created} created, {p.updated} updated, {p.unchanged} unchanged; "
               f"users {summary.users_created} created")
    for user in demo.DEMO_USERS:
        typer.echo(f"  partnerbot console --as {user.name:<6} # {user.description}")
