"""JSON log lines carry the request id of the request that logged them; in multiprocess mode a
scrape sums the counters and histograms of every process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog

from textbridge import logging as tb_logging
from textbridge import metrics

from ..support.database import Database
from ..support.textbridge import running_textbridge
from .test_metrics import parse, value


@pytest.fixture
def json_logs() -> Iterator[None]:
    saved = structlog.get_config()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    tb_logging.configure(json=True)
    yield
    structlog.configure(**saved)
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
        handler.filters = [f for f in handler.filters if not isinstance(f, tb_logging.ScrubFilter)]
    root.setLevel(level)


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_log_line_carries_its_request_id(
    database: Database, tmp_path: Path, json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_textbridge(database, tmp_path, log_format="json") as textbridge:
        url = f"{textbridge.url}/webhooks/plivo/inbound"
        given = httpx.post(url, data={"Text": "forged"}, headers={"X-Request-ID": "proxy-id-0001"})
        chosen = httpx.post(url, data={"Text": "forged"})
        after = httpx.post(url, data={"Text": "forged"})
    assert given.headers["x-request-id"] == "proxy-id-0001"
    ours = chosen.headers["x-request-id"]
    assert ours != after.headers["x-request-id"]
    refused = [
        line for line in json_lines(capsys.readouterr().out) if line["event"] == "webhook refused"
    ]
    assert [line.get("request_id") for line in refused] == [
        "proxy-id-0001",
        ours,
        after.headers["x-request-id"],
    ]
    assert all(line["level"] == "warning" and "timestamp" in line for line in refused)


def test_console_logs_send_no_request_id_header(database: Database, tmp_path: Path) -> None:
    with running_textbridge(database, tmp_path) as textbridge:
        assert "x-request-id" not in httpx.get(f"{textbridge.url}/healthz").headers


COUNTING = """
from time import perf_counter
from textbridge import metrics
from textbridge.providers.base import SendUnavailable
error = SendUnavailable("down", provider_code="503")
metrics.observe_provider_call("vonage", error, perf_counter())
metrics.observe_webhook("vonage", "status", 200, perf_counter())
"""


def test_multiprocess_mode_sums_every_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    environment = {**os.environ, metrics.MULTIPROC_ENV: str(folder)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", COUNTING], env=environment, check=True, timeout=60)
    assert len(list(folder.glob("*.db"))) >= 2  # one file per process and kind

    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(folder))
    samples = parse(metrics.exposition(metrics.local_collector()).decode())
    errors = {"provider": "vonage", "code": "503"}
    assert value(samples, "textbridge_provider_errors_total", **errors) == 2
    calls = {"provider": "vonage", "outcome": "error"}
    assert value(samples, "textbridge_provider_call_seconds_count", **calls) == 2
    hooks = {"provider": "vonage", "kind": "status", "status": "200"}
    assert value(samples, "textbridge_webhook_seconds_count", **hooks) == 2
