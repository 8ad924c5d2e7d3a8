"""WeCom group robots (群机器人): the "wecom_robot" sender. A target is the robot's webhook address,
configured per region in `[groups]` ("江苏" = "wecom_robot:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…").

Text (at most 2048 bytes a message, longer text is split at line ends), markdown for a short titled
text with no markdown characters of its own (the title in bold), images as base64 + md5 (at most 2 MB;
a larger PNG is scaled down, or refused with the reason). A robot takes at most 20 messages a minute:
the dispatcher budgets deliveries per target (dispatcher.channel_rate_per_minute, wecom_robot = 20);
this sender also counts the posts themselves (a text with an image is two) per robot key in this
worker, and on errcode 45009 backs off for a minute. The key in the address is a secret: log lines
and reasons name the group's region or the masked address.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
import re
from collections import defaultdict, deque
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from services.dispatcher import SendError
from services.outbox import OutboundMessage, mask_secrets

from ._http_logs import mask_http_logs
from ._wecom_api import WecomError, errmsg_of, read_json
from ._wecom_send import SentParts, split_utf8

log = logging.getLogger(__name__)

CHANNEL = "wecom_robot"
TEXT_MAX_BYTES = 2048
MARKDOWN_MAX_BYTES = 4096
IMAGE_MAX_BYTES = 2 * 1024 * 1024
PER_MINUTE = 20
BACK_OFF_SECONDS = 60.0  # after 45009
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_MARKDOWN_CHARS = re.compile(r"[*_`\[\]<>~|]|^\s*[#>\-+]|^\s*\d+\.\s", re.MULTILINE)

mask_http_logs()


async def open_sender(runtime, stack: AsyncExitStack) -> RobotSender | None:
    """The robot sender when some configured target is a robot ([groups], [pricing] head_office), else
    None. Robots need no app credentials: every target carries its own webhook key."""
    settings = runtime.settings
    targets = [*settings.groups.values(), getattr(getattr(settings, "pricing", None), "head_office", "")]
    if not any(str(t).startswith(f"{CHANNEL}:") for t in targets):
        return None
    client = httpx.AsyncClient()
    stack.push_async_callback(client.aclose)
    return RobotSender(client, clock=runtime.clock)


class MinuteWindow:
    """Posts per robot in the last minute, on the runtime's clock."""

    def __init__(self, per_minute: int, clock):
        self.per_minute = per_minute
        self.clock = clock
        self._posts: dict[str, deque[datetime]] = defaultdict(deque)
        self._blocked: dict[str, datetime] = {}

    def wait(self, robot: str) -> float:
        """Seconds until `robot` may get another post (0: now)."""
        now = self.clock.now()
        posts = self._posts[robot]
        while posts and posts[0] <= now - timedelta(minutes=1):
            posts.popleft()
        waits = [0.0]
        if len(posts) >= self.per_minute:
            waits.append((posts[0] + timedelta(minutes=1) - now).total_seconds())
        if robot in self._blocked:
            waits.append((self._blocked[robot] - now).total_seconds())
        return max(waits)

    def note(self, robot: str) -> None:
        self._posts[robot].append(self.clock.now())

    def block(self, robot: str, seconds: float) -> None:
        self._blocked[robot] = self.clock.now() + timedelta(seconds=seconds)


class RobotSender:
    """Posts outbox messages to WeCom group robots."""

    def __init__(self, client: httpx.AsyncClient, *, clock, per_minute: int = PER_MINUTE):
        self._client = client
        self._window = MinuteWindow(per_minute, clock)
        self._sent = SentParts()

    async def send(self, msg: OutboundMessage) -> None:
        """Sends the text (or markdown), then the image; raises SendError when a post fails."""
        url, robot = msg.target, robot_key(msg.target)
        if robot is None:
            raise SendError(f"not a robot webhook address: {mask_secrets(url)}", retryable=False)
        shown = getattr(msg, "label", "") or mask_secrets(url)
        posts = render(msg.text, msg.buttons)
        if msg.image_png:
            posts.append(await image_post(msg.image_png))
        key = SentParts.key_of(msg)
        for i in range(self._sent.done(key), len(posts)):
            wait = self._window.wait(robot)
            if wait > 0:
                raise SendError(f"robot of {shown}: {self._window.per_minute} messages a minute reached",
                                retry_after=wait)
            try:
                await self._post(url, posts[i])
            except WecomError as exc:
                log.warning("robot of %s refused message #%s: %s", shown, msg.id, exc.reason)
                if exc.errcode == 45009:
                    self._window.block(robot, BACK_OFF_SECONDS)
                    raise SendError(f"robot of {shown}: frequency limit (45009), backing off",
                                    retry_after=BACK_OFF_SECONDS) from None
                retryable = exc.errcode in (None, -1)  # unreachable, not WeCom answering, or busy
                raise SendError(f"robot of {shown}: {exc.reason}", retryable=retryable) from None
            self._window.note(robot)
            self._sent.mark(key, i + 1)
        self._sent.forget(key)

    async def _post(self, url: str, payload: dict) -> None:
        try:
            response = await self._client.post(url, json=payload, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise WecomError(f"unreachable ({type(exc).__name__})") from None
        data = await read_json(response, "the robot")
        code = int(data.get("errcode") or 0)
        if code:
            raise WecomError(f"{errmsg_of(data)} ({code})", code)


def robot_key(url: str) -> str | None:
    """The robot's key from its webhook address (the robot's identity), or None if it is not one."""
    parts = urlsplit(url)
    keys = parse_qs(parts.query).get("key")
    if parts.scheme not in ("http", "https") or not parts.netloc or not keys or not keys[0]:
        return None
    return keys[0]


def render(text: str, buttons: tuple[str, ...] = ()) -> list[dict]:
    """The robot posts for a text: one markdown post when it suits, else text posts of ≤ 2048 bytes.
    Robots have no buttons: a message's choices become a line naming the replies to send the bot."""
    body = (text or "").strip()
    if buttons:
        body += "\n请私聊助手回复：" + " / ".join(f"「{b}」" for b in buttons)
    markdown = as_markdown(body)
    if markdown is not None:
        return [{"msgtype": "markdown", "markdown": {"content": markdown}}]
    return [{"msgtype": "text", "text": {"content": chunk}} for chunk in split_utf8(body, TEXT_MAX_BYTES) if chunk]


def as_markdown(text: str) -> str | None:
    """Markdown for a text with a short title line and a body, none of it markdown already; else None."""
    lines = text.splitlines()
    if len(lines) < 2 or not lines[0].strip() or len(lines[0].strip()) > 30 or _MARKDOWN_CHARS.search(text):
        return None
    markdown = f"**{lines[0].strip()}**\n" + "\n".join(lines[1:])
    return markdown if len(markdown.encode()) <= MARKDOWN_MAX_BYTES else None


async def image_post(png: bytes) -> dict:
    """The image post (base64 + md5 of the bytes sent); a PNG over 2 MB is scaled down first."""
    data = png if len(png) <= IMAGE_MAX_BYTES else await asyncio.to_thread(shrink, png)
    return {"msgtype": "image",
            "image": {"base64": base64.b64encode(data).decode(), "md5": hashlib.md5(data).hexdigest()}}


def shrink(png: bytes, limit: int = IMAGE_MAX_BYTES) -> bytes:
    """The image scaled down until it fits `limit` (PNG, then JPEG); SendError when it cannot be."""
    too_big = SendError(f"image of {len(png) / 1048576:.1f} MB is over the 2 MB a WeCom robot accepts "
                        "and could not be reduced", retryable=False)
    try:
        from PIL import Image

        with Image.open(io.BytesIO(png)) as original:
            image = original.convert("RGBA") if original.mode not in ("RGB", "RGBA") else original.copy()
    except Exception:  # noqa: BLE001 - not an image Pillow can read
        raise too_big from None
    for scale in (0.85, 0.7, 0.55, 0.4, 0.3):
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        small = image.resize(size)
        for fmt in ("PNG", "JPEG"):
            out = io.BytesIO()
            if fmt == "PNG":
                small.save(out, format="PNG", optimize=True)
            else:
                small.convert("RGB").save(out, format="JPEG", quality=85)
            if out.tell() <= limit:
                return out.getvalue()
    raise too_big
