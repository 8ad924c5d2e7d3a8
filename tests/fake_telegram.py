"""A fake Telegram Bot API on 127.0.0.1 (real HTTP, uvicorn in a thread) that records every call.

`calls` holds (method, params) in order; `fail(method, …)` makes the next calls of a method answer
with an error (429 with retry_after, 403, 400, …); `updates` is what getUpdates serves (those below
the requested offset are dropped, as Telegram does once an offset confirms them).
"""
from __future__ import annotations

import asyncio
import json
import threading
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from loopback import LoopbackServer


class FakeTelegram:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.tokens: list[str] = []
        self.updates: list[dict] = []
        self.files: list[tuple[str, str, int]] = []  # (method, field, bytes)
        self._failures: dict[str, list[dict]] = {}
        self._next_message_id = 1000
        self._lock = threading.Lock()
        self.app = self._build()
        self._loopback = LoopbackServer(self.app, "fake Telegram")
        self.base_url = ""

    # --- scripting and inspection -----------------------------------------------------------

    def fail(self, method: str, *, status: int, description: str, times: int = 1, **parameters) -> None:
        """The next `times` calls of `method` answer `status` with `description` (and `parameters`,
        e.g. retry_after=3 or migrate_to_chat_id=-100…)."""
        with self._lock:
            self._failures.setdefault(method, []).extend(
                [{"status": status, "description": description, "parameters": parameters}] * times)

    def of(self, method: str) -> list[dict]:
        return [params for name, params in self.calls if name == method]

    def sent_texts(self) -> list[str]:
        sends = [p for name, p in self.calls if name in ("sendMessage", "sendPhoto")]
        return [p.get("text") or p.get("caption") or "" for p in sends]

    # --- the server ---------------------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/bot{token}/{method}")
        async def call(token: str, method: str, request: Request):
            params: dict = {}
            form = await request.form()
            for key, value in form.multi_items():
                if hasattr(value, "read"):
                    data = await value.read()
                    self.files.append((method, key, len(data)))
                    params[key] = f"<file {len(data)} bytes>"
                    continue
                params[key] = _maybe_json(value)
            self.tokens.append(token)
            with self._lock:
                queued = self._failures.get(method) or []
                failure = queued.pop(0) if queued else None
            self.calls.append((method, params))
            if failure is not None:
                body = {"ok": False, "error_code": failure["status"], "description": failure["description"]}
                if failure["parameters"]:
                    body["parameters"] = failure["parameters"]
                return JSONResponse(body, status_code=failure["status"])
            if method == "getUpdates":
                return {"ok": True, "result": await self._updates(params)}
            return {"ok": True, "result": self._result(method, params)}

        return app

    async def _updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 0.3)
        while True:
            with self._lock:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                ready = list(self.updates)
            if ready or time.monotonic() >= deadline:
                return ready
            await asyncio.sleep(0.02)

    def _result(self, method: str, params: dict):
        if method in ("sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup"):
            with self._lock:
                self._next_message_id += 1
                message_id = params.get("message_id") or self._next_message_id
            chat_id = int(params.get("chat_id", 0))
            message = {"message_id": int(message_id), "date": int(time.time()),
                       "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}}
            if method == "sendPhoto":
                message["photo"] = [{"file_id": "f1", "file_unique_id": "u1", "width": 10, "height": 10}]
                if params.get("caption"):
                    message["caption"] = params["caption"]
            elif params.get("text"):
                message["text"] = params["text"]
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "getMe":
            return {"id": 123456, "is_bot": True, "first_name": "partnerbot", "username": "partner_bot"}
        return True

    def __enter__(self) -> FakeTelegram:
        self.base_url = self._loopback.start()
        return self

    def __exit__(self, *exc) -> None:
        self._loopback.stop()


def _maybe_json(value: str):
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
