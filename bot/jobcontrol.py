"""What `/jobs` in chat may do with the scheduler, handed to handlers through `Deps`."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from scheduler import jobs, ticks
from services import audit, outbox
from services.actors import Actor
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

_STARTED: set[asyncio.Task] = set()  # jobs started from chat, held until done


@dataclass(frozen=True)
class JobControl:
    runtime: object

    async def lines(self) -> list[str]:
        """One line per job: name, cron, paused, last run."""
        paused, latest = await ticks.job_states(self.runtime.uow())
        tz = self.runtime.settings.tz
        out = []
        for name, job in sorted(jobs.JOBS.items()):
            cron = jobs.cron_for(self.runtime.settings, job) or "（不定时）"
            last = latest.get(name)
            when = f"上次 {last.scheduled_at.astimezone(tz):%m-%d %H:%M} {last.status}" if last else "尚未运行"
            out.append(f"{name} · {cron} · {'已暂停' if paused.get(name) else '运行中'} · {when}")
        return out

    async def run(self, name: str) -> str:
        """Runs a job now and returns its summary (outside any chat message's transaction)."""
        return await jobs.run_job(self.runtime, name)

    def start(self, name: str, actor: Actor) -> None:
        """Starts a job from a chat message; it runs once the message's transaction has ended (a job opens
        its own, which on SQLite waits for the message's write lock) and its summary is pushed to `actor`."""
        jobs.get_job(name)
        task = asyncio.create_task(self._run_and_tell(name, actor), name=f"jobs-run-{name}")
        _STARTED.add(task)
        task.add_done_callback(_STARTED.discard)

    async def _run_and_tell(self, name: str, actor: Actor) -> None:
        try:
            text = await self.run(name)
        except Exception as exc:  # noqa: BLE001 - told to the admin who started it, and logged
            log.exception("job %s started from chat by %s failed", name, actor.name)
            text = f"{name} 运行失败：{type(exc).__name__}: {exc}"
        if actor.user_id is None:
            return
        uow = self.runtime.uow()
        async with uow:
            await outbox.notify_user(uow, user_id=actor.user_id, text=text, urgent=True)
            await uow.commit()

    async def settle(self) -> None:
        """Waits for the jobs started from chat (a replay shows what they pushed under the line)."""
        while _STARTED:
            await asyncio.gather(*list(_STARTED), return_exceptions=True)

    async def set_paused(self, uow: UnitOfWork, name: str, paused: bool, actor: Actor) -> None:
        """Pauses or resumes `name` on every worker, audited, in `uow` (the chat message's own)."""
        jobs.get_job(name)
        async with uow:
            before = await ticks.set_paused(uow, job=name, paused=paused)
            audit.record(uow, actor=actor, action="job.pause" if paused else "job.resume", entity="job",
                         entity_id=name, before={"paused": before}, after={"paused": paused})
            await uow.commit()
