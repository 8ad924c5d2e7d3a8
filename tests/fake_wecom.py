"""A fake WeCom server API and group-robot webhook on 127.0.0.1 (real HTTP, uvicorn in a thread).

App API: gettoken (counts fetches, checks corpid/corpsecret), message/send (checks the access token:
42001 once `expire_tokens()` ran, 40014 for a token it never issued), media/upload, and
update_template_card (each response_code usable once). Robot: webhook/send?key=… checks the key and,
for images, that the md5 matches the decoded base64 and the size is at most 2 MB. `fail(path, errcode)`
makes the next calls of a path answer that errcode.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import threading
import time

from fastapi import FastAPI, Request

from loopback import LoopbackServer


class FakeWecom:
    def __init__(self, *, corp_id: str = "wwcorp", secret: str = "app-secret", robot_keys=("robot-key-1",)):
        self.corp_id, self.secret = corp_id, secret
        self.robot_keys = set(robot_keys)
        self._lock = threading.Lock()
        self.reset()
        self.app = self._build()
        self.base_url = ""
        self._loopback = LoopbackServer(self.app, "fake WeCom")

    def reset(self) -> None:
        """Forgets every call, token and scripted failure (the server keeps running)."""
        self.token_fetches = 0
        self.valid_tokens: set[str] = set()
        self.expired_tokens: set[str] = set()
        self.sent: list[dict] = []             # message/send bodies accepted
        self.uploads: dict[str, bytes] = {}    # media_id -> bytes
        self.card_updates: list[dict] = []
        self.response_codes: dict[str, bool] = {}  # code -> used
        self.robot_posts: list[tuple[str, dict]] = []  # (key, payload) accepted
        self.robot_calls = 0
        self._failures: dict[str, list[tuple[int, str]]] = {}
        self._ids = itertools.count(1)

    # --- scripting and inspection -------------------------------------------------------------

    def fail(self, path: str, errcode: int, errmsg: str = "failed", *, times: int = 1) -> None:
        with self._lock:
            self._failures.setdefault(path, []).extend([(errcode, errmsg)] * times)

    def expire_tokens(self) -> None:
        with self._lock:
            self.expired_tokens |= self.valid_tokens
            self.valid_tokens.clear()

    def texts_to(self, userid: str) -> list[str]:
        return [m["text"]["content"] for m in self.sent if m["touser"] == userid and m["msgtype"] == "text"]

    def cards_to(self, userid: str) -> list[dict]:
        return [m["template_card"] for m in self.sent if m["touser"] == userid and m["msgtype"] == "template_card"]

    def new_response_code(self) -> str:
        code = f"rc-{next(self._ids)}"
        self.response_codes[code] = False
        return code

    def webhook(self, key: str = "robot-key-1") -> str:
        return f"{self.base_url}/cgi-bin/webhook/send?key={key}"

    # --- the server ---------------------------------------------------------------------------

    def _failure(self, path: str) -> dict | None:
        with self._lock:
            queued = self._failures.get(path) or []
            if not queued:
                return None
            code, msg = queued.pop(0)
        return {"errcode": code, "errmsg": f"{msg}, hint: [123], more info at https://open.work.weixin.qq.com"}

    def _token_error(self, token: str) -> dict | None:
        if token in self.valid_tokens:
            return None
        if token in self.expired_tokens:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return {"errcode": 40014, "errmsg": "invalid access_token"}

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/cgi-bin/gettoken")
        async def gettoken(corpid: str = "", corpsecret: str = ""):
            if corpid != self.corp_id or corpsecret != self.secret:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            with self._lock:
                self.token_fetches += 1
                token = f"tok-{self.token_fetches}"
                self.valid_tokens.add(token)
            return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

        @app.post("/cgi-bin/message/send")
        async def send(request: Request, access_token: str = ""):
            error = self._token_error(access_token) or self._failure("message/send")
            if error:
                return error
            body = await request.json()
            if body["msgtype"] == "image" and body["image"]["media_id"] not in self.uploads:
                return {"errcode": 40007, "errmsg": "invalid media_id"}
            self.sent.append(body)
            answer = {"errcode": 0, "errmsg": "ok", "msgid": f"msg-{next(self._ids)}"}
            if body["msgtype"] == "template_card":
                answer["response_code"] = self.new_response_code()
            return answer

        @app.post("/cgi-bin/media/upload")
        async def upload(request: Request, access_token: str = "", type: str = ""):
            error = self._token_error(access_token) or self._failure("media/upload")
            if error:
                return error
            form = await request.form()
            data = await form["media"].read()
            media_id = f"media-{next(self._ids)}"
            self.uploads[media_id] = data
            return {"errcode": 0, "errmsg": "ok", "type": type, "media_id": media_id, "created_at": str(int(time.time()))}

        @app.post("/cgi-bin/message/update_template_card")
        async def update_card(request: Request, access_token: str = ""):
            error = self._token_error(access_token) or self._failure("update_template_card")
            if error:
                return error
            body = await request.json()
            code = body.get("response_code")
            if self.response_codes.get(code, True):
                return {"errcode": 40008, "errmsg": "invalid response_code"}
            self.response_codes[code] = True
            self.card_updates.append(body)
            return {"errcode": 0, "errmsg": "ok"}

        @app.post("/cgi-bin/webhook/send")
        async def robot(request: Request, key: str = ""):
            self.robot_calls += 1
            if key not in self.robot_keys:
                return {"errcode": 93000, "errmsg": f"invalid webhook url, key={key}"}
            failure = self._failure("webhook/send")
            if failure:
                return failure
            body = await request.json()
            if body.get("msgtype") == "image":
                data = base64.b64decode(body["image"]["base64"])
                if hashlib.md5(data).hexdigest() != body["image"]["md5"]:
                    return {"errcode": 301019, "errmsg": "media md5 not match"}
                if len(data) > 2 * 1024 * 1024:
                    return {"errcode": 40009, "errmsg": "invalid image size"}
            if body.get("msgtype") == "text" and len(body["text"]["content"].encode()) > 2048:
                return {"errcode": 40058, "errmsg": "content exceed max length 2048"}
            self.robot_posts.append((key, body))
            return {"errcode": 0, "errmsg": "ok"}

        return app

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FakeWecom:
        self.base_url = self._loopback.start()
        return self

    def __exit__(self, *exc) -> None:
        self._loopback.stop()
