"""httpx logs every request URL at INFO level, and platform URLs carry secrets in the query
(WeChat's and WeCom's access_token, a WeCom robot's key): a filter on httpx's loggers masks them
with `services.outbox.mask_secrets` before any handler sees the record."""
from __future__ import annotations

import logging

from services.outbox import mask_secrets


class _MaskSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def mask_http_logs() -> None:
    """Installs the masking filter on httpx's loggers (once)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _MaskSecrets) for f in logger.filters):
            logger.addFilter(_MaskSecrets())
