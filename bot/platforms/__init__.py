"""Platform adapters, one module each (wechat, wecom, wecom_robot, telegram), found by discovery.

A module here may define any of:
- `router`: a FastAPI `APIRouter` with its webhook routes (verify, decrypt, dedupe, hand the text to
  `handlers.all.handle`, render the replies for the platform);
- `async def open_sender(runtime, stack) -> Sender | None`: its outbound sender for the dispatcher
  (`services.dispatcher.Sender`) under the channel name `CHANNEL`, or None when not configured;
  clients are closed through `stack` (an `AsyncExitStack`);
- `async def start_background(runtime, stack) -> None`: background work of `partnerbot serve`
  (e.g. Telegram polling in development), stopped through `stack`.
Adapters know platforms and nothing of the domain (DESIGN §4).
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def modules() -> list[ModuleType]:
    """Every platform module of this package, in name order."""
    return [importlib.import_module(f"{__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name) if not info.name.startswith("_")]
