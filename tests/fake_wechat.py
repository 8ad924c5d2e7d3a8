"""A fake WeChat Official Account API on 127.0.0.1 (real HTTP, uvicorn in a thread) recording every call.

It hands out access tokens from /cgi-bin/stable_token the way WeChat does (normal mode: the
current token while it lives; force_refresh: a new one, the old one dead), refuses dead tokens with
40001 and expired ones with 42001 (noted in `refused`), and answers the customer-service (45015 for
openids in `closed`), template and media-upload endpoints. `calls` holds (path, body) in order.
"""
from __future__ import annotations

import asyncio
import json
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from loopback import LoopbackServer


class FakeWechat:
    def __init__(self) -> None:
        self.app = self._build()
        self.base_url = ""
        self._loopback = LoopbackServer(self.app, "fake WeChat")
        self.reset()

    def reset(self) -> None:
        self.calls: list[tuple[str, dict]] = []     # calls made with a valid token
        self.refused: list[tuple[str, int]] = []    # (path, errcode) of calls refused for their token
        self.token_requests: list[dict] = []
        self.current: str | None = None
        self.dead: set[str] = set()
        self.expired: set[str] = set()
        self.closed: set[str] = set()   # openids outside the customer-service window
        self.token_delay = 0.0
        self.issued = 0

    # --- scripting and inspection -----------------------------------------------------------

    def expire(self) -> None:
        """The current token expires now (calls with it get 42001)."""
        if self.current:
            self.expired.add(self.current)

    def of(self, path: str) -> list[dict]:
        return [body for p, body in self.calls if p == path]

    def texts(self) -> list[str]:
        return [b["text"]["content"] for b in self.of("/cgi-bin/message/custom/send") if b.get("msgtype") == "text"]

    # --- the server ---------------------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/cgi-bin/stable_token")
        async def stable_token(request: Request):
            body = await request.json()
            self.token_requests.append({k: v for k, v in body.items() if k != "secret"})
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            if body.get("grant_type") != "client_credential" or body.get("secret") != "s3cret-app":
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            if body.get("force_refresh") or self.current is None or self.current in self.expired:
                if self.current and body.get("force_refresh"):
                    self.dead.add(self.current)
                self.issued += 1
                self.current = f"TOKEN-{self.issued}-{'x' * 20}"
            return {"access_token": self.current, "expires_in": 7200}

        @app.post("/cgi-bin/{path:path}")
        async def api(path: str, request: Request):
            token = request.query_params.get("access_token", "")
            if request.headers.get("content-type", "").startswith("multipart/"):
                form = await request.form()
                media = form["media"]
                body = {"type": request.query_params.get("type"), "bytes": len(await media.read())}
            else:
                body = json.loads(await request.body() or b"{}")
            full = f"/cgi-bin/{path}"
            if token in self.expired:
                self.refused.append((full, 42001))
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if token != self.current or token in self.dead:
                self.refused.append((full, 40001))
                return {"errcode": 40001, "errmsg": "invalid credential"}
            self.calls.append((full, body))
            if full == "/cgi-bin/message/custom/send":
                if body.get("touser") in self.closed:
                    return {"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"}
                return {"errcode": 0, "errmsg": "ok"}
            if full == "/cgi-bin/message/template/send":
                return {"errcode": 0, "errmsg": "ok", "msgid": 200228332}
            if full == "/cgi-bin/media/upload":
                return {"type": "image", "media_id": f"MEDIA{len(self.calls)}", "created_at": int(time.time())}
            return JSONResponse({"errcode": 404, "errmsg": "no such api"}, status_code=404)

        return app

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeWechat:
        self.base_url = self._loopback.start()
        return self

    def stop(self) -> None:
        self._loopback.stop()
