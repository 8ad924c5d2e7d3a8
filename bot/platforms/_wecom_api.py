"""The WeCom app's server API (企业微信自建应用): access token, app messages, media upload, card updates.

One access token per app (corp_id + agent_id) is shared by every worker through the database, sealed
with a key derived from the app's secret and refreshed by one worker at a time (`_shared_token`, as
WeChat's). A call refused for a stale token (40014, 42001, 42009) gets a fresh one — unless another
worker has replaced it already — and is retried once. Every failure is a `WecomError`; no secret (corp secret, access token, robot
key) ever reaches a log line or an error text.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx

from services.outbox import mask_secrets
from storage.uow import UnitOfWork

from ._shared_token import TokenStore, TokenUnavailable

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40014, 42001, 42009})  # invalid / expired access token
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class WecomError(Exception):
    """WeCom refused a call (`errcode` from its answer), or could not be reached (`errcode` None)."""

    def __init__(self, reason: str, errcode: int | None = None, *, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.errcode = errcode
        self.status = status


def errmsg_of(data: dict) -> str:
    """WeCom's errmsg without its trailing hint and help link."""
    text = str(data.get("errmsg") or "error")
    return mask_secrets(text.split(", hint:")[0].split(", more info")[0])


async def read_json(response: httpx.Response, what: str) -> dict:
    """The JSON answer of a WeCom endpoint; a WecomError (with the HTTP status) when there is none."""
    if response.status_code != 200:
        raise WecomError(f"{what} answered HTTP {response.status_code}", status=response.status_code)
    try:
        data = response.json()
    except ValueError:
        raise WecomError(f"{what} answered something that is not JSON", status=200) from None
    if not isinstance(data, dict):
        raise WecomError(f"{what} answered unexpected JSON", status=200)
    return data


class WecomApi:
    """Calls the WeCom server API for one app; `uow_factory` reaches the shared token cache."""

    def __init__(self, *, corp_id: str, agent_id: int, secret: str, base_url: str,
                 uow_factory: Callable[[], UnitOfWork], client: httpx.AsyncClient):
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self._client = client
        self.tokens = TokenStore(uow_factory, key=f"wecom:token:{corp_id}:{agent_id}", secret=secret,
                                 fetch=self._gettoken, label="WeCom")

    async def token(self, *, refused: str | None = None) -> str:
        """A valid access token: the shared one, or another than `refused` (a token WeCom just refused)."""
        try:
            return await (self.tokens.replace(refused) if refused is not None else self.tokens.get())
        except TokenUnavailable as exc:
            raise WecomError(str(exc)) from None

    async def _gettoken(self, force: bool) -> tuple[str, int]:
        """A new token from gettoken and its lifetime in seconds (WeCom has no forced refresh)."""
        data = await self._request("GET", "/cgi-bin/gettoken",
                                   params={"corpid": self.corp_id, "corpsecret": self._secret})
        token = str(data.get("access_token") or "")
        if not token:
            raise WecomError("gettoken answered without an access token")
        return token, int(data.get("expires_in") or 7200)

    async def call(self, method: str, path: str, *, json: dict | None = None, files: Any = None,
                   params: dict | None = None) -> dict:
        """Calls an endpoint with the access token; on a token error, once more with a fresh token."""
        token = await self.token()
        try:
            return await self._request(method, path, params={**(params or {}), "access_token": token},
                                       json=json, files=files)
        except WecomError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.info("WeCom refused the access token (%s); fetching a new one", exc.errcode)
        token = await self.token(refused=token)
        return await self._request(method, path, params={**(params or {}), "access_token": token},
                                   json=json, files=files)

    async def _request(self, method: str, path: str, *, params: dict, json: dict | None = None,
                       files: Any = None) -> dict:
        try:
            response = await self._client.request(method, self.base_url + path, params=params, json=json,
                                                  files=files, timeout=TIMEOUT)
        except httpx.HTTPError as exc:  # the exception text may carry the URL: name the type only
            raise WecomError(f"WeCom unreachable ({type(exc).__name__})") from None
        data = await read_json(response, "WeCom")
        code = int(data.get("errcode") or 0)
        if code:
            raise WecomError(f"{errmsg_of(data)} ({code})", code)
        return data

    async def send_message(self, payload: dict) -> dict:
        """message/send for this app's agent; returns WeCom's answer (msgid, response_code, invaliduser…)."""
        return await self.call("POST", "/cgi-bin/message/send", json={**payload, "agentid": self.agent_id})

    async def upload_image(self, png: bytes, *, filename: str = "image.png") -> str:
        """Uploads a temporary image; returns its media_id (valid three days)."""
        data = await self.call("POST", "/cgi-bin/media/upload", params={"type": "image"},
                               files={"media": (filename, png, "image/png")})
        media_id = str(data.get("media_id") or "")
        if not media_id:
            raise WecomError("media/upload answered without a media_id")
        return media_id

    async def update_card_button(self, *, userid: str, response_code: str, replace_name: str) -> None:
        """Turns the buttons of the card a user clicked into one greyed-out label (response_code: from
        the click, usable once within 72 hours)."""
        await self.call("POST", "/cgi-bin/message/update_template_card", json={
            "userids": [userid], "agentid": self.agent_id, "response_code": response_code,
            "button": {"replace_name": replace_name}})
