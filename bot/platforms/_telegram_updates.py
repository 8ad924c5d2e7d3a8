"""One Telegram update, from the webhook or the long poll, handled the same way:
dedupe → map to an InboundMessage → `handle` → send the replies → mark them delivered.

Messages are deduplicated by update id, button presses by their callback token: one button runs
once however often it is tapped or its update redelivered, and its replies go out once. Replies that
cannot go out at once (flood control, an outage) are queued in the outbox for the dispatcher.
"""
from __future__ import annotations

import base64
import logging
import uuid

from telegram import CallbackQuery, Message, Update

from bot.console import make_deps
from handlers.all import handle
from handlers.messages import InboundMessage, Reply
from services import callback_tokens, reply_delivery
from services.dispatcher import SendError
from services.reply_delivery import PendingReply

from ._telegram_api import TelegramApi, mask

log = logging.getLogger("partnerbot.telegram")

CHANNEL = "telegram"

NOTES = {
    "only_text": {
        "zh-CN": "目前只能看懂文字消息。请直接打字告诉我，例如：报单 A100 20箱 28元 张三超市；发送「帮助」查看常用指令。",
        "en": "I can only read text messages for now. Please type it, e.g. sale A100 20 cases 28 to Zhang's Store; "
              "send \"help\" for the commands.",
    },
    "unknown": {"zh-CN": "这个按钮已失效，请重新发送指令。", "en": "This button is no longer valid; please send the command again."},
    "expired": {"zh-CN": "这个按钮已过期，请重新发送指令。", "en": "This button has expired; please send the command again."},
    "foreign": {"zh-CN": "这个按钮是发给别人的，您不能替他操作。", "en": "This button was meant for someone else."},
    "failed": {"zh-CN": "抱歉，这次没有处理成功，请稍后再试。", "en": "Sorry, that did not work; please try again later."},
    "done": {"zh-CN": "已处理过：{choice}", "en": "Already done: {choice}"},
}
COMMANDS = {"/start": "帮助", "/help": "帮助"}


def note(key: str, locale: str, **kw) -> str:
    texts = NOTES[key]
    return texts.get(locale, texts["zh-CN"]).format(**kw)


def message_text(message: Message) -> str | None:
    """What a message says: its text or a media caption; a bot command loses its @BotName, `/start`
    and `/help` become 帮助, and `/start CODE` (a t.me/…?start=CODE invite link) binds."""
    text = message.text if message.text is not None else message.caption
    if text is None:
        return None
    text = text.strip()
    if text.startswith("/"):
        command, _, rest = text.partition(" ")
        command = command.split("@", 1)[0].lower()
        if command == "/start" and rest.strip():
            return f"绑定 {rest.strip()}"
        if command in COMMANDS:
            return COMMANDS[command]
        text = f"{command} {rest}".strip()
    return text


async def process(runtime, api: TelegramApi, update: Update) -> None:
    """Handles one update; never raises (a failure is logged with a reference)."""
    try:
        if update.callback_query is not None:
            await _button(runtime, api, update.callback_query)
        elif update.message is not None and update.message.from_user is not None:
            await _message(runtime, api, update.update_id, update.message)
        # edited messages, channel posts, membership changes: nothing to answer
    except Exception:  # noqa: BLE001 - one bad update must not stop the webhook or the poll
        log.exception("telegram update %s failed (ref %s)", update.update_id, uuid.uuid4().hex[:8])


async def _message(runtime, api: TelegramApi, update_id: int, message: Message) -> None:
    message_id = f"{api.bot_id}:{update_id}"
    if await reply_delivery.delivered(runtime.uow(), channel=CHANNEL, message_id=message_id):
        return
    user = message.from_user
    text = message_text(message)
    if text is None:
        replies = [Reply(note("only_text", runtime.settings.app.locale))]
    else:
        inbound = InboundMessage(channel=CHANNEL, user_id=str(user.id), chat_id=str(user.id), text=text,
                                 message_id=message_id, kind="text", display_name=user.full_name[:100])
        replies = await handle(make_deps(runtime), inbound)
    await deliver(runtime, api, message_id=message_id, chat_id=message.chat.id, user_id=str(user.id),
                  replies=replies)


async def _button(runtime, api: TelegramApi, query: CallbackQuery) -> None:
    """A pressed inline button: answered always; run once as its text; its keyboard closed after."""
    locale = runtime.settings.app.locale
    user_id = str(query.from_user.id)
    answer = note("failed", locale)
    message = query.message if isinstance(query.message, Message) else None  # too old: inaccessible
    try:
        pressed = await callback_tokens.press(runtime.uow(), channel=CHANNEL, token=query.data or "",
                                              external_id=user_id)
        if not pressed.ok:
            answer = note(pressed.status, locale)
            if pressed.status != "foreign":  # a stale keyboard is closed; someone else's is left alone
                await api.close_keyboard(message, None)
            return
        message_id = f"{api.bot_id}:cb:{query.data}"
        if await reply_delivery.delivered(runtime.uow(), channel=CHANNEL, message_id=message_id):
            answer = note("done", locale, choice=pressed.text)
            return
        inbound = InboundMessage(channel=CHANNEL, user_id=user_id, chat_id=user_id, text=pressed.text,
                                 message_id=message_id, kind="button", display_name=query.from_user.full_name[:100])
        replies = await handle(make_deps(runtime), inbound)
        await api.answer_callback(query.id, f"✓ {pressed.text}")
        answer = None
        await api.close_keyboard(message, pressed.text)
        await deliver(runtime, api, message_id=message_id, chat_id=message.chat.id if message else query.from_user.id,
                      user_id=user_id, replies=replies)
    finally:
        if answer is not None:
            await api.answer_callback(query.id, answer)


async def deliver(runtime, api: TelegramApi, *, message_id: str, chat_id: int | str, user_id: str,
                  replies: list[Reply]) -> None:
    """Sends the replies in order and marks them delivered; from the first that fails for a while on,
    they go to the outbox instead. Buttons are scoped to the identity that wrote."""
    undelivered: list[PendingReply] = []
    for i, reply in enumerate(replies):
        try:
            tokens = []
            if reply.buttons:
                ids = await callback_tokens.issue(runtime.uow(), channel=CHANNEL, texts=reply.buttons,
                                                  external_id=user_id)
                tokens = list(zip(reply.buttons, ids))
            await api.send(chat_id, reply.text, tokens=tokens, image_png=reply.image_png)
        except SendError as exc:
            if exc.retryable:
                log.warning("telegram reply to %s deferred to the outbox: %s", chat_id, exc.reason)
                undelivered = [_pending(r) for r in replies[i:]]
            else:
                log.warning("telegram reply to %s not deliverable: %s", chat_id, mask(exc.reason))
            break
    await reply_delivery.settle(runtime.uow(), channel=CHANNEL, message_id=message_id, target=str(chat_id),
                                undelivered=undelivered)


def _pending(reply: Reply) -> PendingReply:
    image = base64.b64encode(reply.image_png).decode() if reply.image_png is not None else None
    return PendingReply(reply.text, reply.buttons, image)
