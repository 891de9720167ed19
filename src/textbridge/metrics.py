"""Prometheus metrics: process-local instruments, and gauges read from the database per scrape.

Two kinds, on purpose:

- What the database knows (messages by provider, channel, direction and status; messages
  waiting; journal entries by state; the alert conditions of `alerts.py`) is counted with a few
  `GROUP BY` queries when `/metrics` is scraped. Any process answers the same, however many
  `serve` and `worker` processes there are, and nothing is kept in memory between scrapes.
- What only a process sees (webhook handling time, provider call time, rate-governor waits,
  provider errors) lives in counters and histograms here. With `PROMETHEUS_MULTIPROC_DIR` set
  (before the process starts: prometheus-client picks its value store at import), each process
  writes them to memory-mapped files in that folder and a scrape of any process sums them all
  (prometheus-client's multiprocess mode). Without it, a scrape shows its own process only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from time import perf_counter

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.responses import Response

from textbridge.providers.base import SendError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Webhooks are answered in milliseconds; a provider call may take seconds.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SLOW = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# A `_created` series per label set doubles the output and says nothing a dashboard uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

LOCAL = CollectorRegistry(auto_describe=True)

WEBHOOK_SECONDS = Histogram(
    "textbridge_webhook_seconds",
    "Time to verify, journal and answer a provider webhook, by answer status",
    ("provider", "kind", "status"),
    buckets=_FAST,
    registry=LOCAL,
)
PROVIDER_CALL_SECONDS = Histogram(
    "textbridge_provider_call_seconds",
    "Time of a send call to the provider's API (the dispatcher's), by outcome",
    ("provider", "outcome"),
    buckets=_SLOW,
    registry=LOCAL,
)
GOVERNOR_WAIT_SECONDS = Histogram(
    "textbridge_governor_wait_seconds",
    "Time a claimed message waited for its rate slot before the provider call",
    ("provider",),
    buckets=(0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=LOCAL,
)
DISPATCH_SECONDS = Histogram(
    "textbridge_dispatch_seconds",
    "Time from a send attempt being due (accepted, its send_at, the end of a quiet-hours hold, "
    "a retry's time) to the provider accepting it, by provider and source (campaign or direct)",
    ("provider", "source"),
    buckets=(*_SLOW, 60.0, 300.0, 900.0, 3600.0),
    registry=LOCAL,
)
PROVIDER_ERRORS = Counter(
    "textbridge_provider_errors",
    "Send calls that failed, by provider and error code (the provider's, else the kind)",
    ("provider", "code"),
    registry=LOCAL,
)

_CODE_LENGTH = 32


def observe_webhook(provider: str, kind: str, status: int, started: float) -> None:
    WEBHOOK_SECONDS.labels(provider, kind, str(status)).observe(perf_counter() - started)


def observe_governor_wait(provider: str, started: float) -> None:
    GOVERNOR_WAIT_SECONDS.labels(provider).observe(perf_counter() - started)


def observe_provider_call(provider: str, error: Exception | None, started: float) -> None:
    outcome = "ok" if error is None else "error"
    PROVIDER_CALL_SECONDS.labels(provider, outcome).observe(perf_counter() - started)
    if error is not None:
        PROVIDER_ERRORS.labels(provider, error_code(error)).inc()


def observe_dispatched(provider: str, campaign: bool, due: datetime, now: datetime) -> None:
    source = "campaign" if campaign else "direct"
    DISPATCH_SECONDS.labels(provider, source).observe(max(0.0, (now - due).total_seconds()))


def error_code(error: Exception) -> str:
    """The provider's code when it gave one (bounded: the providers document a finite set),
    else the kind of failure (`SendUnavailable`, `timeout`...)."""
    if isinstance(error, SendError) and error.provider_code:
        return error.provider_code[:_CODE_LENGTH]
    if isinstance(error, TimeoutError):
        return "timeout"
    return type(error).__name__


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def local_collector() -> Collector:
    """This process's instruments, or every process's summed in multiprocess mode."""
    folder = multiprocess_dir()
    if folder is None:
        return LOCAL
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    return registry


class Snapshot:
    """Metric families already computed (from the database): `collect` is synchronous in
    prometheus-client, so the queries run before, asynchronously."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def exposition(*collectors: Collector) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


def gauge(name: str, documentation: str, labels: tuple[str, ...]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


def metrics_response(body: bytes) -> Response:
    return Response(body, media_type=CONTENT_TYPE)
