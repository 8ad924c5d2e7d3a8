"""`partnerbot export KIND [--from D] [--to D] -o FILE` (DESIGN §8.1, §8.6)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from bot.cli import ProgressBar, app, fail, open_runtime, run
from services import exports
from services.actors import Actor
from services.errors import InvalidInput

CLI_ACTOR = Actor(user_id=None, name="cli", role="system", channel="cli")
BAR_FROM_ROWS = 20_000  # small exports finish before a bar would be worth drawing


def _Bar(label: str) -> ProgressBar:
    return ProgressBar(label, threshold=BAR_FROM_ROWS)


def _day(value: str | None, option: str) -> date | None:
    """An ISO date given to `option`, or exit 2 naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-18", 2)


@app.command("export")
def export_cmd(kind: str = typer.Argument(..., help="sales, …"),
               date_from: str = typer.Option(None, "--from", help="first day (YYYY-MM-DD), inclusive"),
               date_to: str = typer.Option(None, "--to", help="last day (YYYY-MM-DD), inclusive"),
               output: Path = typer.Option(..., "-o", "--output", help="file to write: .csv or .xlsx")) -> None:
    """Export rows to a .csv (UTF-8 with BOM, opens in Excel) or .xlsx file."""
    valid = exports.kind_names()
    if kind not in valid:
        fail(f"unknown export kind {kind!r}; valid kinds: {', '.join(valid)}", 2)
    first, last = _day(date_from, "--from"), _day(date_to, "--to")
    if first and last and first > last:
        fail(f"--from {first} is after --to {last}", 2)
    if output.suffix.lower() not in exports.SUPPORTED:
        fail(f"unsupported file type {output.suffix or output.name!r} for {output}; use .csv or .xlsx", 2)
    if not output.parent.is_dir():
        fail(f"folder not found: {output.parent}", 2)

    async def go() -> exports.ExportSummary:
        bar = _Bar(f"exporting {kind}")
        try:
            async with open_runtime() as rt:
                return await exports.export_file(rt.uow(), kind=kind, path=output, actor=CLI_ACTOR,
                                                 date_from=first, date_to=last, progress=bar)
        finally:
            bar.close()

    try:
        summary = run(go())
    except InvalidInput as exc:
        fail(exc.facts.get("reason", str(exc)), 1)
    typer.echo(f"exported {summary.rows} {kind} rows to {summary.path}")
