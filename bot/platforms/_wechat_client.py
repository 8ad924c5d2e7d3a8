"""The Official Account's HTTP API on `httpx.AsyncClient` (wechatpy's client is synchronous).

Every call carries the shared access token (`_shared_token`); a token WeChat refuses
(40001/42001/40014) is replaced once and the call made again. Errors come back as `WechatError`
with WeChat's errcode; nothing here logs the secret or a token.
"""
from __future__ import annotations

import json as jsonlib
import logging
from typing import Any

import httpx

from ._shared_token import TokenStore

log = logging.getLogger("partnerbot.wechat")

TOKEN_ERRORS = frozenset({40001, 42001, 40014})
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class WechatError(Exception):
    """WeChat answered with a non-zero errcode, or not with JSON (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WechatApi:
    """`POST {api_base_url}/cgi-bin/...` with the shared token."""

    def __init__(self, http: httpx.AsyncClient, uow_factory, *, app_id: str, app_secret: str):
        self.http = http
        self._app_id = app_id
        self._secret = app_secret
        self.tokens = TokenStore(uow_factory, key=f"wechat:token:{app_id}", secret=app_secret,
                                 fetch=self._stable_token, label="WeChat")

    async def call(self, path: str, *, json: dict | None = None, params: dict | None = None,
                   files: dict | None = None) -> dict:
        """Calls `path` with the token; replaces a refused token once."""
        token = await self.tokens.get()
        data = await self._post(path, token, json=json, params=params, files=files)
        if data.get("errcode") in TOKEN_ERRORS:
            log.warning("wechat refused the access token (%s); refreshing once", data.get("errcode"))
            token = await self.tokens.replace(token)
            data = await self._post(path, token, json=json, params=params, files=files)
        _check(data)
        return data

    async def send_custom(self, payload: dict) -> None:
        """Customer-service message (inside the 48-hour window)."""
        await self.call("/cgi-bin/message/custom/send", json=payload)

    async def send_template(self, payload: dict) -> None:
        await self.call("/cgi-bin/message/template/send", json=payload)

    async def upload_image(self, png: bytes) -> str:
        """Uploads a temporary image; returns its media_id."""
        data = await self.call("/cgi-bin/media/upload", params={"type": "image"},
                               files={"media": ("image.png", png, "image/png")})
        media_id = data.get("media_id")
        if not media_id:
            raise WechatError(None, "media/upload answered without media_id")
        return media_id

    async def _post(self, path: str, token: str, *, json: dict | None, params: dict | None,
                    files: dict | None) -> dict:
        query = {**(params or {}), "access_token": token}
        if json is not None:  # UTF-8 JSON, Chinese unescaped, as in WeChat's own examples
            response = await self.http.post(path, params=query, content=jsonlib.dumps(json, ensure_ascii=False).encode(),
                                            headers={"Content-Type": "application/json; charset=utf-8"})
        else:
            response = await self.http.post(path, params=query, files=files)
        return _json_of(response)

    async def _stable_token(self, force: bool) -> tuple[str, int]:
        response = await self.http.post("/cgi-bin/stable_token", json={
            "grant_type": "client_credential", "appid": self._app_id, "secret": self._secret,
            "force_refresh": force})
        data = _json_of(response)
        _check(data)
        token, expires_in = data.get("access_token"), data.get("expires_in")
        if not token or not isinstance(expires_in, int):
            raise WechatError(None, "stable_token answered without access_token/expires_in")
        return token, expires_in


def _json_of(response: httpx.Response) -> dict:
    if response.status_code >= 500:
        raise httpx.HTTPStatusError(f"WeChat answered HTTP {response.status_code}", request=response.request,
                                    response=response)
    try:
        data: Any = response.json()
    except ValueError as exc:
        raise WechatError(None, f"HTTP {response.status_code}, not JSON") from exc
    if not isinstance(data, dict):
        raise WechatError(None, f"HTTP {response.status_code}, unexpected JSON")
    return data


def _check(data: dict) -> None:
    code = data.get("errcode", 0)
    if code not in (0, None):
        raise WechatError(int(code), str(data.get("errmsg", "")))
