"""What `/jobs` in chat may do with the scheduler, handed to handlers through `Deps`."""
from __future__ import annotations

from dataclasses import dataclass

from scheduler import jobs, ticks
from services import audit
from services.actors import Actor


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
        return await jobs.run_job(self.runtime, name)

    async def set_paused(self, name: str, paused: bool, actor: Actor) -> None:
        jobs.get_job(name)
        before = await ticks.set_paused(self.runtime.uow(), job=name, paused=paused)
        uow = self.runtime.uow()
        async with uow:
            audit.record(uow, actor=actor, action="job.pause" if paused else "job.resume", entity="job",
                         entity_id=name, before={"paused": before}, after={"paused": paused})
            await uow.commit()
