"""The other end of the links `/export` and `/import` send in chat (services/file_links.py):
`GET /files/{token}` downloads an export; `GET /upload/{token}` shows a small upload page and
`POST /upload/{token}` imports the file — all rows or none — shows the result and tells the chat too.
Pages are plain HTML that a phone's in-app browser (WeChat, WeCom, Telegram) renders."""
from __future__ import annotations

import html
import logging
import uuid
from pathlib import Path

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse

from services import file_links, identities, imports, outbox
from services.errors import DomainError
from services.importing.tables import SUPPORTED
from handlers import texts

from .web import runtime_of

log = logging.getLogger(__name__)
router = APIRouter(tags=["files"], include_in_schema=False)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>partnerbot</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;margin:1.5em;max-width:40em}}li{{margin:.2em 0}}
.bad{{color:#b00}}.ok{{color:#070}}button{{font-size:1em;padding:.4em 1.2em}}</style></head>
<body>{body}</body></html>"""
GONE = "<h2>链接无效或已过期</h2><p>请在聊天里重新发送 /import 或 /export 获取新的链接。</p>"


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(body=body), status_code=status)


@router.get("/files/{token}")
async def download(token: str, request: Request):
    """The export file behind a live download link."""
    link = await file_links.lookup(runtime_of(request).uow(), token, "download")
    if link is None or not Path(link.path).is_file():
        return _page(GONE, 404)
    return FileResponse(link.path, media_type=XLSX, filename=link.filename)


@router.get("/upload/{token}")
async def upload_page(token: str, request: Request) -> HTMLResponse:
    """A form to pick the file of a live upload link."""
    link = await file_links.lookup(runtime_of(request).uow(), token, "upload")
    if link is None:
        return _page(GONE, 404)
    return _page(f"<h2>导入 {html.escape(link.kind)}</h2><p>选择 CSV 或 Excel（.xlsx）文件：全部行都正确才会导入，"
                 "有问题的行会逐行列出。</p><form method=post enctype=multipart/form-data>"
                 "<p><input type=file name=file accept=.csv,.xlsx required></p><p><button>上传并导入</button></p></form>")


@router.post("/upload/{token}")
async def upload(token: str, request: Request, file: UploadFile) -> HTMLResponse:
    """Imports the uploaded file as the user the link was issued to; the chat hears the outcome."""
    rt = runtime_of(request)
    link = await file_links.take_upload(rt.uow(), token)
    if link is None:
        return _page(GONE, 404)
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in SUPPORTED:
        await file_links.finish_upload(rt.uow(), token, link, imported=False)
        return _page("<h2 class=bad>不支持的文件类型</h2><p>请上传 .csv 或 .xlsx 文件。</p>", 400)
    path = file_links.files_dir(rt.uow()) / f"upload-{uuid.uuid4().hex}{suffix}"
    try:
        path.write_bytes(await file.read())
        body, chat, ok = await _import(rt, link, path, file.filename or path.name)
    finally:
        path.unlink(missing_ok=True)
    await file_links.finish_upload(rt.uow(), token, link, imported=ok)
    await _tell_chat(rt, link.user_id, chat)
    return _page(body, 200 if ok else 422)


async def _import(rt, link: file_links.Link, path: Path, name: str) -> tuple[str, str, bool]:
    """(page body, chat text, imported) for one uploaded file."""
    shown = html.escape(name)
    try:
        uow = rt.uow()
        async with uow.reading() as ro:
            actor = await identities.actor_of_user(ro, link.user_id)
        summary = await imports.import_file(rt.uow(), kind=link.kind, path=path, actor=actor)
    except imports.ImportFailed as exc:
        rows = "".join(f"<li>{html.escape(str(e))}</li>" for e in exc.errors[:500])
        more = f"<p>……另有 {len(exc.errors) - 500} 行</p>" if len(exc.errors) > 500 else ""
        head = f"{shown}：{len(exc.errors)} 行有问题，未导入任何数据"
        chat = f"⚠️ 导入 {link.kind}（{name}）未成功：{len(exc.errors)} 行有问题，未导入任何数据。\n" + \
            "\n".join(str(e) for e in exc.errors[:10]) + ("\n……" if len(exc.errors) > 10 else "")
        return f"<h2 class=bad>{head}</h2><ul>{rows}</ul>{more}<p>改好后可用同一链接重新上传。</p>", chat, False
    except DomainError as exc:
        reason = texts.error_text(exc, "zh-CN")
        return (f"<h2 class=bad>{shown}：未导入</h2><p>{html.escape(str(reason))}</p>",
                f"⚠️ 导入 {link.kind}（{name}）未成功：{reason}", False)
    line = f"共 {summary.total} 行：新增 {summary.created}，更新 {summary.updated}，未变 {summary.unchanged}"
    return (f"<h2 class=ok>{shown} 已导入</h2><p>{line}。</p>",
            f"✅ 已导入 {link.kind}（{name}）：{line}。", True)


async def _tell_chat(rt, user_id: int, text: str) -> None:
    uow = rt.uow()
    async with uow:
        await outbox.notify_user(uow, user_id=user_id, text=text, kind="import", urgent=True)
        await uow.commit()
