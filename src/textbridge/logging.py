"""structlog set-up. Secrets are scrubbed from every log line, whatever logged them.

Tracebacks are plain (`traceback.format_exception`): never the local variables of each frame,
which is what rich's renderer adds by default and where credentials and message texts sit. The
rendered traceback is scrubbed like any other field. `RepeatedErrors` keeps an error that
repeats every second to one line per minute.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import traceback
from collections.abc import Callable, MutableMapping
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


class ScrubFilter(logging.Filter):
    """For stdlib loggers (uvicorn, httpx, sqlalchemy) too, their tracebacks included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not record.exc_text:
            # The formatter reuses `exc_text` when it is set: render it here, scrubbed.
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if _secrets:
            record.msg = _scrub_text(record.getMessage())
            record.args = None
            if record.exc_text:
                record.exc_text = _scrub_text(record.exc_text)
        return True


_CONTACT_IN_PATH = re.compile(r"(/contacts/)[^/?]+")


class AccessPathFilter(logging.Filter):
    """uvicorn's access lines name the request path: a contact's address in it (`/contacts/
    {address}`: export, erasure, consent) becomes `[address]`, and a webhook's query string (a
    provider's GET callback: the number and the text) is left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], access_path(args[2]), *args[3:])
        return True


def access_path(path: str) -> str:
    path, mark, query = path.partition("?")
    path = _CONTACT_IN_PATH.sub(r"\1[address]", path)
    if mark and path.startswith("/webhooks/"):
        query = "[redacted]"
    return f"{path}{mark}{query}"


def configure(level: str = "info", json: bool = False) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            # Renders `exc_info` as a plain traceback string, so that `_scrub` sees it.
            structlog.processors.format_exc_info,
            _scrub,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessPathFilter) for f in access.filters):
        access.addFilter(AccessPathFilter())  # uvicorn's own config keeps a logger's filters
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in root.handlers or [logging.StreamHandler()]:
        handler.addFilter(ScrubFilter())
        if handler not in root.handlers:
            root.addHandler(handler)


class RepeatedErrors:
    """Logs the first occurrence of an error with its traceback; the same error (event,
    exception type and message) again within `window` seconds is only counted, and the count
    logged in one line ("repeated N times") when the window has passed or the work recovers.
    One per loop: it remembers the last error only."""

    def __init__(
        self,
        logger: Any,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._window = window
        self._clock = clock
        self._last: tuple[str, str] | None = None
        self._since = 0.0
        self._repeats = 0

    def exception(self, event: str, **fields: Any) -> None:
        """Call from an `except` block, as `log.exception`."""
        error = sys.exc_info()[1]
        key = (event, f"{type(error).__name__}: {error}"[:200])
        now = self._clock()
        if key == self._last and now - self._since < self._window:
            self._repeats += 1
            return
        self._summarise(**fields)
        self._last, self._since = key, now
        self._log.exception(event, **fields)

    def recovered(self, **fields: Any) -> None:
        """The work succeeded: report the repeats not yet reported, and forget the error."""
        self._summarise(**fields)
        self._last = None

    def _summarise(self, **fields: Any) -> None:
        if self._repeats and self._last is not None:
            event, error = self._last
            self._log.error(f"{event}: repeated {self._repeats} times", error=error, **fields)
        self._repeats = 0
