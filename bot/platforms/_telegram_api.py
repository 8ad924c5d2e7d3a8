"""The Telegram Bot API client: python-telegram-bot's `Bot` pointed at `[telegram] api_base_url`.

Sending renders a platform-neutral message: text split at 4096 characters, buttons as an inline
keyboard (callback data are short tokens, see services/callback_tokens.py), an image by sendPhoto.
Every failure comes back as a `SendError` the dispatcher understands: flood control (429) retryable
after Telegram's `retry_after`, a blocked bot (403) or an unknown chat (400) undeliverable on this
channel. The bot token is part of every API URL: it is masked in every log record of the process and
in every error reason.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from services.dispatcher import SendError
from services.outbox import mask_secrets

log = logging.getLogger("partnerbot.telegram")

TEXT_LIMIT = 4096      # characters of a message (counted in UTF-16 code units, as Telegram does)
CAPTION_LIMIT = 1024   # characters of a photo caption
ROW_CHARS = 24         # buttons share a keyboard row while their texts fit in this many characters
ROW_BUTTONS = 3
POLL_TIMEOUT = 25      # seconds a getUpdates long poll waits for news

# PTB 22 warns on every RetryAfter that time periods become timedeltas unless opted in; we opt in
# (before any PTB object is built; `retry_seconds` reads either form).
os.environ.setdefault("PTB_TIMEDELTA", "true")


class TelegramApi:
    """One bot's API client; `close()` releases its connections."""

    def __init__(self, *, token: str, api_base_url: str, poll_timeout: float = POLL_TIMEOUT):
        mask_in_logs(token)
        base = api_base_url.rstrip("/")
        head = token.partition(":")[0]  # the bot's public id; never the secret part
        self.bot_id = head if head.isdigit() else hashlib.sha256(token.encode()).hexdigest()[:12]
        self.poll_timeout = poll_timeout
        self._requests = (HTTPXRequest(connection_pool_size=16, read_timeout=15, write_timeout=15, connect_timeout=10),
                          HTTPXRequest(connection_pool_size=1, read_timeout=10, connect_timeout=10))
        self.bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
                       request=self._requests[0], get_updates_request=self._requests[1])

    async def close(self) -> None:
        for request in self._requests:
            await request.shutdown()

    async def __aenter__(self) -> TelegramApi:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def send(self, chat_id: str | int, text: str, *, tokens: Sequence[tuple[str, str]] = (),
                   image_png: bytes | None = None) -> None:
        """Sends one message (several when long): `tokens` are (button text, callback token) pairs."""
        try:
            await self._send(chat_id, text, tokens, image_png)
        except ChatMigrated as exc:  # a group became a supergroup: its id changed
            log.warning("telegram chat %s is now %s; update its [groups] entry", chat_id, exc.new_chat_id)
            try:
                await self._send(exc.new_chat_id, text, tokens, image_png)
            except TelegramError as again:
                raise send_error(again) from None
        except TelegramError as exc:
            raise send_error(exc) from None

    async def _send(self, chat_id, text: str, tokens: Sequence[tuple[str, str]], image_png: bytes | None) -> None:
        markup = keyboard(tokens)
        if image_png is not None:
            fits = utf16_len(text) <= CAPTION_LIMIT
            await self.bot.send_photo(chat_id, photo=image_png, caption=(text or None) if fits else None,
                                      reply_markup=markup if fits else None)
            if fits:
                return
        chunks = split_text(text) or (["…"] if markup else [])
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            await self.bot.send_message(chat_id, chunk, reply_markup=markup if last else None)

    async def answer_callback(self, query_id: str, text: str = "") -> None:
        """Answers a button press (Telegram shows a spinner until then); a failure is only logged."""
        try:
            await self.bot.answer_callback_query(query_id, text=text[:200] or None)
        except TelegramError as exc:
            log.warning("answerCallbackQuery failed: %s", mask(str(exc)))

    async def close_keyboard(self, message: Message | None, choice: str | None) -> None:
        """Removes the buttons of a message; with a `choice`, shows it under the message's text."""
        if message is None or not getattr(message, "message_id", None):
            return
        try:
            text = getattr(message, "text", None)
            if text and choice:
                shown = f"{text}\n\n✓ {choice}"
                if utf16_len(shown) <= TEXT_LIMIT:
                    await self.bot.edit_message_text(shown, chat_id=message.chat.id, message_id=message.message_id)
                    return
            await self.bot.edit_message_reply_markup(chat_id=message.chat.id, message_id=message.message_id)
        except TelegramError as exc:  # too old to edit, already edited: the reply still tells
            log.info("could not close the keyboard of message %s: %s", message.message_id, mask(str(exc)))


def keyboard(tokens: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    """An inline keyboard: short buttons share a row, long ones get their own."""
    if not tokens:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    width = 0
    for text, token in tokens:
        button = InlineKeyboardButton(text, callback_data=token)
        if rows and len(rows[-1]) < ROW_BUTTONS and width + len(text) <= ROW_CHARS:
            rows[-1].append(button)
            width += len(text)
        else:
            rows.append([button])
            width = len(text)
    return InlineKeyboardMarkup(rows)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """`text` in pieces of at most `limit` UTF-16 units, cut at line ends where possible."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if utf16_len(current) + utf16_len(line) <= limit:
            current += line
            continue
        if current:
            chunks.append(current)
        while utf16_len(line) > limit:  # one line longer than a message: cut it hard
            head = _prefix(line, limit)
            chunks.append(head)
            line = line[len(head):]
        current = line
    if current:
        chunks.append(current)
    return [c.rstrip("\n") for c in chunks if c.strip()]


def _prefix(text: str, units: int) -> str:
    """The longest prefix of `text` within `units` UTF-16 units (never half a surrogate pair)."""
    out, used = [], 0
    for ch in text:
        n = 2 if ord(ch) > 0xFFFF else 1
        if used + n > units:
            break
        out.append(ch)
        used += n
    return "".join(out)


def retry_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def send_error(exc: TelegramError) -> SendError:
    """The dispatcher's view of a Bot API failure."""
    reason = mask(getattr(exc, "message", "") or str(exc))
    if isinstance(exc, RetryAfter):
        seconds = retry_seconds(exc)
        return SendError(f"telegram flood control: retry after {seconds:g}s", retry_after=seconds)
    if isinstance(exc, Forbidden):  # blocked by the user, kicked from the group, never started
        return SendError(f"telegram refused: {reason}", retryable=False, fallback=True)
    if isinstance(exc, BadRequest) and "chat not found" in reason.lower():
        return SendError(f"telegram: {reason}", retryable=False, fallback=True)
    if isinstance(exc, BadRequest):  # the message itself is wrong: sending it again cannot help
        return SendError(f"telegram rejected the message: {reason}", retryable=False)
    if isinstance(exc, InvalidToken):  # retried: the token can be fixed in the configuration
        return SendError("telegram rejected the bot token (check [telegram] bot_token)")
    return SendError(f"telegram unreachable: {reason}")


# --- keeping the token out of logs --------------------------------------------------------------

_TOKENS: set[str] = set()


def mask(text: str) -> str:
    """`text` with every known bot token (and anything shaped like one) replaced by ***."""
    for token in _TOKENS:
        text = text.replace(token, "***")
    return mask_secrets(text)


def mask_in_logs(token: str) -> None:
    """From now on no log record of this process shows `token` (httpx logs every request URL,
    which holds it); installs one record factory the first time."""
    if not token or token in _TOKENS:
        return
    first = not _TOKENS
    _TOKENS.add(token)
    if first:
        logging.setLogRecordFactory(_masking_factory(logging.getLogRecordFactory()))


def _masking_factory(previous):
    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the logging module's to report
            return record
        if any(token in message for token in _TOKENS):
            record.msg, record.args = mask(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            trace = logging.Formatter().formatException(record.exc_info)
            if any(token in trace for token in _TOKENS):
                record.exc_text = mask(trace)
        return record
    return factory
