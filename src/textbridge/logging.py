"""structlog set-up. Secrets are scrubbed from every log line, whatever logged them."""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = re.compile(r"(token|secret|password|api_key|authorization|signature)", re.I)
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Any log line containing this value will show `[redacted]` instead."""
    if value and len(value) >= 6:
        _secrets.add(value)


def _scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if SECRET_KEYS.search(key) and key != "event":
            event[key] = "[redacted]"
        elif isinstance(value, str):
            event[key] = _scrub_text(value)
    return event


def _scrub_text(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by `[redacted]` (for stored error texts)."""
    return _scrub_text(text)


class _ScrubFilter(logging.Filter):
    """For stdlib loggers (uvicorn, httpx, sqlalchemy) too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = _scrub_text(record.getMessage())
            record.args = None
        return True


def configure(level: str = "info", json: bool = False) -> None:
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            _scrub,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in root.handlers or [logging.StreamHandler()]:
        handler.addFilter(_ScrubFilter())
        if handler not in root.handlers:
            root.addHandler(handler)
