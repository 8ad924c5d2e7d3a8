"""Telegram: `POST /telegram/webhook`, a getUpdates long poll for development, and the outbound sender.

The webhook follows the adapter order: verify (the `X-Telegram-Bot-Api-Secret-Token` header against
`[telegram] webhook_secret`, in constant time; 403 otherwise, and always 403 when no secret is
configured) → cap the body (413) → parse the Update (400 if it is not one) → dedupe, handle and reply
(`_telegram_updates.process`). Replies go out by sendMessage while the webhook request is open, not
in the webhook response: a response carries one method call whose failure nobody sees, while several
replies, photos, buttons and flood control need real calls with answers. Telegram waits for the 200
and redelivers otherwise; the redelivery runs nothing twice.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
from contextlib import AsyncExitStack

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from telegram import Update
from telegram.error import Conflict, RetryAfter, TelegramError

from services import callback_tokens
from services.outbox import OutboundMessage

from ..web import runtime_of
from ._telegram_api import TelegramApi, mask, retry_seconds
from ._telegram_updates import CHANNEL, process

__all__ = ["CHANNEL", "router", "open_sender", "start_background", "TelegramSender", "poll"]

log = logging.getLogger("partnerbot.telegram")

MAX_UPDATE_BYTES = 256 * 1024   # an update is a few kB; Telegram's own ceiling for a message is 4096 chars
ALLOWED_UPDATES = ["message", "callback_query"]
PURGE_EVERY_SECONDS = 3600

router = APIRouter(tags=["telegram"])

_APIS: dict[int, TelegramApi] = {}  # id(runtime) -> its client while `serve` runs


def _secret_ok(given: str | None, secret: str) -> bool:
    return bool(secret) and given is not None and hmac.compare_digest(given.encode(), secret.encode())


@router.post("/telegram/webhook", include_in_schema=False)
async def webhook(request: Request) -> Response:
    """Telegram's webhook: verify → cap → parse → dedupe → handle → reply."""
    runtime = runtime_of(request)
    cfg = runtime.settings.telegram
    if not _secret_ok(request.headers.get("x-telegram-bot-api-secret-token"), cfg.webhook_secret):
        return JSONResponse({"detail": "forbidden"}, status_code=403)
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > MAX_UPDATE_BYTES):
        return JSONResponse({"detail": f"request body over {MAX_UPDATE_BYTES} bytes"}, status_code=413)
    body = await request.body()
    if len(body) > MAX_UPDATE_BYTES:
        return JSONResponse({"detail": f"request body over {MAX_UPDATE_BYTES} bytes"}, status_code=413)
    try:
        data = json.loads(body)
        update = Update.de_json(data, None)
        if not isinstance(update.update_id, int):
            raise ValueError("update_id")
    except Exception:  # noqa: BLE001 - whatever it is, it is not an update
        return JSONResponse({"detail": "not a Telegram update"}, status_code=400)
    if not cfg.bot_token:  # Telegram keeps the update and retries while the token is being configured
        log.error("telegram webhook called but [telegram] bot_token is not set")
        return JSONResponse({"detail": "telegram bot token not configured"}, status_code=503)
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.inbound_message(CHANNEL)
    api = _APIS.get(id(runtime))
    if api is not None:
        await process(runtime, api, update)
    else:  # an app without its background work (tests, tools): a client for this request
        async with TelegramApi(token=cfg.bot_token, api_base_url=cfg.api_base_url) as api:
            await process(runtime, api, update)
    return Response(status_code=200)


class TelegramSender:
    """The dispatcher's sender for channel "telegram": the target is a chat id (a user's, or a group's
    like -1001234567890). Buttons in a private chat are scoped to that user; in a group, to anyone."""

    def __init__(self, runtime, api: TelegramApi):
        self.runtime = runtime
        self.api = api

    async def send(self, msg: OutboundMessage) -> None:
        """Sends one message (split when long, a photo when it has an image), raising SendError."""
        tokens: list[tuple[str, str]] = []
        if msg.buttons:
            private = not msg.target.lstrip().startswith(("-", "@"))
            ids = await callback_tokens.issue(self.runtime.uow(), channel=CHANNEL, texts=msg.buttons,
                                              external_id=msg.target.strip() if private else None)
            tokens = list(zip(msg.buttons, ids))
        await self.api.send(msg.target.strip(), msg.text, tokens=tokens, image_png=msg.image_png)


async def _shared_api(runtime, stack: AsyncExitStack) -> TelegramApi | None:
    """The runtime's client (built once, closed by `stack`), or None when no bot token is set."""
    cfg = runtime.settings.telegram
    if not cfg.bot_token:
        return None
    api = _APIS.get(id(runtime))
    if api is None:
        api = TelegramApi(token=cfg.bot_token, api_base_url=cfg.api_base_url)
        _APIS[id(runtime)] = api

        async def close() -> None:
            _APIS.pop(id(runtime), None)
            await api.close()
        stack.push_async_callback(close)
    return api


async def open_sender(runtime, stack: AsyncExitStack) -> TelegramSender | None:
    """The Telegram sender when `[telegram] bot_token` is set."""
    api = await _shared_api(runtime, stack)
    return TelegramSender(runtime, api) if api is not None else None


async def start_background(runtime, stack: AsyncExitStack) -> None:
    """With a bot token: expired button tokens are purged hourly; with `[telegram] polling = true`
    the long poll runs too (development: no public URL needed). Both stop through `stack`."""
    api = await _shared_api(runtime, stack)
    if api is None:
        return
    _run(stack, _purge_loop(runtime), "telegram-token-purge")
    if runtime.settings.telegram.polling:
        _run(stack, poll(runtime, api), "telegram-poll")
        log.info("telegram: polling getUpdates (development mode; the webhook is deleted)")


def _run(stack: AsyncExitStack, coro, name: str) -> None:
    task = asyncio.create_task(coro, name=name)

    async def stop() -> None:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    stack.push_async_callback(stop)


async def _purge_loop(runtime) -> None:
    while True:
        try:
            await callback_tokens.purge_expired(runtime.uow())
        except Exception as exc:  # noqa: BLE001 - tried again next hour
            log.warning("purging expired button tokens failed: %s", exc)
        await asyncio.sleep(PURGE_EVERY_SECONDS)


async def poll(runtime, api: TelegramApi) -> None:
    """Deletes the webhook, then long-polls getUpdates until cancelled; each update is handled like a
    webhook's and confirmed by asking for the next offset."""
    offset: int | None = None
    webhook_deleted = False
    failures = 0
    while True:
        try:
            if not webhook_deleted:
                await api.bot.delete_webhook(drop_pending_updates=False)
                webhook_deleted = True
            updates = await api.bot.get_updates(offset=offset, timeout=api.poll_timeout,
                                                allowed_updates=ALLOWED_UPDATES)
            failures = 0
        except RetryAfter as exc:
            await asyncio.sleep(retry_seconds(exc))
            continue
        except TelegramError as exc:
            failures += 1
            hint = " (another poller or a webhook is active)" if isinstance(exc, Conflict) else ""
            log.warning("telegram getUpdates failed%s: %s", hint, mask(str(exc)))
            await asyncio.sleep(min(60.0, 0.5 * 2 ** min(failures, 7)))
            continue
        for update in updates:
            await process(runtime, api, update)
            offset = update.update_id + 1
