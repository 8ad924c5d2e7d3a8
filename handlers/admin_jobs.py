"""`/jobs list|run|pause|resume` for admins."""
from __future__ import annotations

from services.errors import InvalidInput

from .context import Ctx
from .messages import Reply
from .slash import command

jobs_cmd = command(
    "jobs",
    help_zh="/jobs list —— 定时任务及上次运行\n/jobs run 名称 —— 立即运行\n/jobs pause 名称 —— 暂停\n/jobs resume 名称 —— 恢复",
    help_en="/jobs list — scheduled jobs and their last run\n/jobs run NAME — run now\n/jobs pause NAME\n/jobs resume NAME",
)


def _control(ctx: Ctx):
    if ctx.deps.jobs is None:
        raise InvalidInput(reason="这个入口不能管理定时任务 / jobs are not available here")
    return ctx.deps.jobs


def _name(args: list[str]) -> str:
    if not args:
        raise InvalidInput(reason="/jobs run 名称（见 /jobs list）")
    return args[0]


@jobs_cmd.sub("list")
async def jobs_list(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Every job with its schedule and last run."""
    return [Reply("\n".join(await _control(ctx).lines()))]


def _unknown(exc: KeyError) -> InvalidInput:
    valid = getattr(exc, "valid", ())
    if not valid:
        return InvalidInput(reason=str(exc))
    return InvalidInput(reason=f"没有名为「{getattr(exc, 'name', '')}」的任务，可选：{'、'.join(valid)}（见 /jobs list）")


@jobs_cmd.sub("run")
async def jobs_run(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Starts a job now; its summary comes as a push when it is done."""
    try:
        _control(ctx).start(_name(args), ctx.actor)
    except KeyError as exc:
        raise _unknown(exc) from exc
    return [Reply(f"已开始运行 {args[0]}，完成后把结果发给您。")]


async def _pause(ctx: Ctx, args: list[str], paused: bool) -> list[Reply]:
    try:
        await _control(ctx).set_paused(ctx.uow(), _name(args), paused, ctx.actor)
    except KeyError as exc:
        raise _unknown(exc) from exc
    return [Reply(f"已{'暂停' if paused else '恢复'} {args[0]}。")]


@jobs_cmd.sub("pause")
async def jobs_pause(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Pauses a job on every worker."""
    return await _pause(ctx, args, True)


@jobs_cmd.sub("resume")
async def jobs_resume(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Resumes a paused job."""
    return await _pause(ctx, args, False)
