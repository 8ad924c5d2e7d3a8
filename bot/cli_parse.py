"""`partnerbot parse`: print what a message means (DESIGN §8.3)."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import typer

from .cli import app, fail, open_runtime, run


@app.command()
def parse(text: str = typer.Argument(None, help="the message (omit with --batch)"),
          catalog: Path = typer.Option(None, "--catalog", help="load SKUs from this file into a throwaway database"),
          now: str = typer.Option(None, "--now", help="ISO time the message was sent (default: now)"),
          batch: bool = typer.Option(False, "--batch", help='read {"text", "now"} JSON lines on stdin')) -> None:
    """Print the meaning of a message as JSON, one object per message."""
    from handlers.parsing import SkuMatcher, parse_message
    from services import catalog as catalog_service

    if not batch and text is None:
        fail("give a message, or --batch with JSON lines on stdin")
    if catalog is not None and not catalog.is_file():
        fail(f"catalog {catalog} not found")

    async def load_matcher(tmp: str | None) -> tuple[SkuMatcher, object]:
        if tmp:
            os.environ["PARTNERBOT_DATABASE_URL"] = f"sqlite:///{tmp}/catalog.db"
        async with open_runtime(upgrade=bool(tmp) or None) as rt:
            if catalog is not None:
                from services import imports
                from services.actors import SYSTEM
                await imports.import_file(rt.uow(), kind="skus", path=catalog, actor=SYSTEM)
            return SkuMatcher(await catalog_service.list_skus(rt.uow())), rt.settings.tz

    def meaning(matcher, tz, message: str, at: str | None) -> dict:
        try:
            moment = datetime.fromisoformat(at) if at else datetime.now(timezone.utc)
        except ValueError:
            fail(f"--now {at!r} is not an ISO time")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return parse_message(message, matcher, moment.astimezone(tz).date())

    def go(tmp: str | None):
        matcher, tz = run(load_matcher(tmp))
        if not batch:
            print(json.dumps(meaning(matcher, tz, text, now), ensure_ascii=False))
            return
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
                message, at = case["text"], case.get("now") or now
            except (ValueError, KeyError, TypeError):
                fail(f"stdin line {number}: expected a JSON object with \"text\" (and \"now\")")
            print(json.dumps(meaning(matcher, tz, message, at), ensure_ascii=False), flush=False)
        sys.stdout.flush()

    try:
        if catalog is not None:
            with tempfile.TemporaryDirectory() as tmp:
                go(tmp)
        else:
            go(None)
    except Exception as exc:  # import errors name their rows
        from services.errors import DomainError
        if isinstance(exc, DomainError):
            fail(f"catalog: {exc}")
        raise
