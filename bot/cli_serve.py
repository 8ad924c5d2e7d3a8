"""`partnerbot serve`, `partnerbot jobs list`, `partnerbot jobs run NAME`."""
from __future__ import annotations

from contextlib import AsyncExitStack

import typer
from rich.console import Console

from .cli import app, fail, open_runtime, run, settings_or_exit

jobs_app = typer.Typer(no_args_is_help=True, help="Scheduled jobs")
app.add_typer(jobs_app, name="jobs")


@app.command()
def serve(host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
          port: int = typer.Option(8000, "--port", help="port to listen on")) -> None:
    """Web app (webhooks, HTTP API), scheduler and dispatcher."""
    import logging

    import uvicorn

    from .bootstrap import tune_gc
    from .web import create_app

    settings = settings_or_exit()
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    web_app = create_app(settings)
    tune_gc()
    uvicorn.run(web_app, host=host, port=port, proxy_headers=True, log_level="info")


@jobs_app.command("list")
def jobs_list() -> None:
    """Every job: name, cron (in the configured timezone), paused, last run."""
    from scheduler import ticks
    from scheduler.jobs import JOBS, cron_for

    async def go():
        async with open_runtime() as rt:
            paused, last = await ticks.job_states(rt.uow())
            tz = rt.settings.tz
            print(f"{'job':<16} {'cron':<16} {'paused':<7} last run ({rt.settings.app.timezone})")
            for name, job in JOBS.items():
                tick = last.get(name)
                when = (f"{tick.scheduled_at.astimezone(tz):%Y-%m-%d %H:%M} {tick.status}"
                        + (f": {tick.error.splitlines()[0][:80]}" if tick.error else "")) if tick else "never"
                cron = cron_for(rt.settings, job) or "(manual)"
                print(f"{name:<16} {cron:<16} {'yes' if paused.get(name) else 'no':<7} {when}")
    run(go())


@jobs_app.command("run")
def jobs_run(name: str = typer.Argument(..., help="job name (see `partnerbot jobs list`)"),
             keep_outbox: bool = typer.Option(False, "--keep-outbox",
                                              help="leave the messages for the server's dispatcher")) -> None:
    """Run a job now, then deliver the outbox (to the console unless platforms are configured)."""
    from scheduler.jobs import JOBS, run_job
    from services import dispatcher

    from .senders import ConsoleSink, open_senders

    if name not in JOBS:
        fail(f"unknown job {name!r}; valid jobs: {', '.join(sorted(JOBS))}", 2)
    out = Console(highlight=False, soft_wrap=True)

    async def go():
        async with open_runtime() as rt, AsyncExitStack() as stack:
            out.print(await run_job(rt, name), markup=False)
            if keep_outbox:
                return
            senders = await open_senders(rt, stack, fallback=ConsoleSink(out))
            total = dispatcher.DrainResult()
            while True:  # batch after batch, until a pass is short or delivers nothing
                r = await dispatcher.drain(rt.uow, senders, worker=f"cli-jobs-{name}", flush=True)
                total = dispatcher.DrainResult(*(getattr(total, f) + getattr(r, f) for f in
                                                 ("sent", "failed", "dead", "deferred", "messages")))
                if r.rows < rt.settings.dispatcher.batch_size or not r.sent:
                    break
            out.print(f"outbox: {total.messages} message(s) sent, {total.failed} retrying, "
                      f"{total.dead} undeliverable, {total.deferred} held by rate limits", markup=False)
    run(go())
