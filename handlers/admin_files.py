"""`/export KIND [FROM] [TO]` (admins; managers for their regions) answers with a download link;
`/import KIND` (admins) answers with an upload link. Files travel by link (services/file_links.py)."""
from __future__ import annotations

from datetime import date

from services import exports, file_links, imports
from services.errors import InvalidInput

from .context import Ctx
from .messages import Reply
from .slash import command


def _kinds(names) -> str:
    return " | ".join(names)


export_cmd = command(
    "export",
    help_zh=f"/export 类型 [开始日期] [结束日期] —— 导出为 Excel，回复下载链接\n    类型：{_kinds(exports.kind_names())}\n"
            "    例：/export sales 2026-11-01 2026-11-30；/export rebates（截至今天）\n"
            "    渠道经理只导出辖区内的数据；链接限时有效，请勿转发。",
    help_en=f"/export KIND [FROM] [TO] — an Excel file, answered with a download link\n    KIND: {_kinds(exports.kind_names())}\n"
            "    e.g. /export sales 2026-11-01 2026-11-30; /export rebates (as of today)\n"
            "    Managers get their regions only; the link expires, do not forward it.",
)
import_cmd = command(
    "import",
    help_zh=f"/import 类型 —— 回复一个上传链接，在浏览器中选择 CSV 或 Excel 文件上传\n    类型：{_kinds(imports.kind_names())}\n"
            "    整个文件全部导入或全部不导入，有问题的行会逐行列出；结果也会发到这里。",
    help_en=f"/import KIND — answered with an upload link: pick a CSV or Excel file in the browser\n"
            f"    KIND: {_kinds(imports.kind_names())}\n"
            "    All rows or none; every bad row is named; the result is also sent here.",
)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.replace("/", "-").replace(".", "-"))
    except ValueError:
        raise InvalidInput(reason=f"「{text}」不是日期，请写成 2026-11-01") from None


async def _export(ctx: Ctx, args: list[str]) -> list[Reply]:
    kind, rest = args[0].lower(), args[1:]
    if kind not in exports.kind_names():
        raise InvalidInput(reason=f"没有「{kind}」这种导出，可选：{'、'.join(exports.kind_names())}")
    if len(rest) > 2:
        raise InvalidInput(reason="/export 类型 [开始日期] [结束日期]")
    date_from = _date(rest[0]) if rest else None
    date_to = _date(rest[1]) if len(rest) > 1 else None
    done = await file_links.export_link(ctx.uow(), actor=ctx.actor, kind=kind, date_from=date_from, date_to=date_to)
    span = f"（{date_from or '…'} ~ {date_to or '…'}）" if rest else ""
    if ctx.locale.startswith("en"):
        return [Reply(f"Exported {done.rows:,} {kind} rows{span}. Download within {done.minutes} minutes:\n{done.url}")]
    return [Reply(f"已导出 {kind} {done.rows:,} 行{span}。请在 {done.minutes} 分钟内下载：\n{done.url}")]


async def _import(ctx: Ctx, args: list[str]) -> list[Reply]:
    if len(args) != 1:
        raise InvalidInput(reason="/import 类型，例如 /import shipments")
    done = await file_links.upload_link(ctx.uow(), actor=ctx.actor, kind=args[0].lower())
    if ctx.locale.startswith("en"):
        return [Reply(f"Open this link within {done.minutes} minutes and pick the file to import:\n{done.url}")]
    return [Reply(f"请在 {done.minutes} 分钟内打开以下链接，选择要导入的文件（CSV 或 Excel）：\n{done.url}")]


export_cmd.fallback = (_export, ("manager",))
import_cmd.fallback = (_import, ())
