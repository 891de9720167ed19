"""Log output as an operator reads it: plain tracebacks without local variables, secrets
scrubbed from them, and an error repeating every pass logged once with a count."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from collections.abc import Iterator

import pytest
import structlog

from textbridge import logging as tb_logging
from textbridge.polling import PollingLoop

SECRET_TEXT = "meet me at the usual place"
BASIC = "Basic " + base64.b64encode(b"vonage-key:vonage-secret-123").decode()
REGISTERED = "registered-secret-0123456789"


@pytest.fixture
def configured() -> Iterator[None]:
    """textbridge's own logging set-up, undone afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    tb_logging.configure()
    tb_logging.register_secret(REGISTERED)
    yield
    structlog.configure(**saved)
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
        handler.filters = [f for f in handler.filters if not isinstance(f, tb_logging.ScrubFilter)]
    root.setLevel(level)


def failing_pass(calls: list[int], failures: int) -> object:
    async def one_pass() -> int:
        authorization = BASIC  # what a provider client holds in a frame
        text = SECRET_TEXT
        calls.append(len(authorization) + len(text))
        if len(calls) <= failures:
            raise RuntimeError(f"the database refused it ({REGISTERED})")
        await asyncio.sleep(0)
        return 0

    return one_pass


async def test_a_repeating_error_is_logged_once_without_locals(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[int] = []
    loop = PollingLoop("test", batch=10, idle_seconds=0.001)
    task = asyncio.create_task(loop.run(failing_pass(calls, failures=50)))  # type: ignore[arg-type]
    while len(calls) < 52:
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    output = capsys.readouterr().out
    assert output.count("Traceback (most recent call last)") == 1, output
    assert "background pass failed: repeated 49 times" in output
    assert len(output.splitlines()) < 40, output
    for leaked in (SECRET_TEXT, BASIC.split()[1], REGISTERED):
        assert leaked not in output
    assert "locals" not in output
    assert "authorization =" not in output


def test_stdlib_tracebacks_are_scrubbed(configured: None) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("textbridge.test.stdlib")
    logger.addHandler(handler)
    handler.addFilter(tb_logging.ScrubFilter())  # as configure() adds to the root's handlers
    try:
        raise ValueError(f"token {REGISTERED}")
    except ValueError:
        logger.exception("uvicorn-style failure")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "Traceback" in output
    assert "[redacted]" in output
    assert REGISTERED not in output


def test_repeats_are_summarised_when_the_window_passes() -> None:
    now = [0.0]
    with structlog.testing.capture_logs() as logs:
        errors = tb_logging.RepeatedErrors(structlog.get_logger(), window=60, clock=lambda: now[0])
        for second in range(130):
            now[0] = float(second)
            try:
                raise ConnectionRefusedError("database down")
            except ConnectionRefusedError:
                errors.exception("pass failed")
        errors.recovered()
    assert [entry["event"] for entry in logs] == [
        "pass failed",
        "pass failed: repeated 59 times",
        "pass failed",
        "pass failed: repeated 59 times",
        "pass failed",
        "pass failed: repeated 9 times",
    ]


def test_the_access_log_names_no_person(configured: None) -> None:
    """uvicorn's access lines carry the path: a contact's address in it (export, erasure,
    consent) or a provider's GET webhook query (number and text) must not reach the log."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        for path in (
            "/api/v1/contacts/%2B14155550177/export",
            "/api/v1/contacts/+14155550177/consent",
            "/webhooks/vonage/inbound?msisdn=14155550177&text=meet+me",
        ):
            access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    finally:
        access.removeHandler(handler)
    written = stream.getvalue()
    assert "/api/v1/contacts/[address]/export" in written
    assert "14155550177" not in written
    assert "meet" not in written
