"""`GET /metrics` (Prometheus text format) and `GET /api/v1/alerts` (the conditions firing now).

`/metrics` asks for a bearer key with the `admin` scope, like the journal and the audit log:
its figures (volumes per provider and channel, error codes, refused webhooks) are the
operator's. `TEXTBRIDGE_METRICS_PUBLIC=true` opens it, for a scraper on a private network that
cannot hold a key. There is deliberately no "loopback is trusted" rule: behind a reverse proxy
on the same host, every request would come from loopback.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.responses import Response

from textbridge import alerts, metrics
from textbridge.api.deps import ReadDep, RuntimeDep, has_admin_key
from textbridge.api.errors import ApiError
from textbridge.webhooks import journal

router = APIRouter(tags=["observability"])
alerts_router = APIRouter(tags=["observability"])


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request, runtime: RuntimeDep) -> Response:
    if not runtime.settings.metrics_public and not await has_admin_key(request, runtime):
        raise ApiError(401, "unauthorized", "/metrics needs an API key with the admin scope")
    thresholds = alerts.Thresholds.of(runtime.settings)
    health = await alerts.read_health(runtime.engine, thresholds)
    families = database_families(health, thresholds)
    body = metrics.exposition(metrics.local_collector(), metrics.Snapshot(families))
    return metrics.metrics_response(body)


@alerts_router.get("/alerts")
async def list_alerts(_: ReadDep, runtime: RuntimeDep) -> dict[str, Any]:
    """The alert conditions firing now (an empty list when all is well)."""
    thresholds = alerts.Thresholds.of(runtime.settings)
    health = await alerts.read_health(runtime.engine, thresholds)
    firing = [alert for alert in alerts.alerts(health, thresholds) if alert.firing]
    return {
        "alerts": [
            {
                "name": alert.name,
                "value": alert.value,
                "threshold": alert.threshold,
                "summary": alert.summary,
            }
            for alert in firing
        ]
    }


def database_families(health: alerts.Health, thresholds: alerts.Thresholds) -> list[Metric]:
    return [
        _messages(health),
        _waiting(health),
        *_journal(health),
        *_alert_families(health, thresholds),
    ]


def _messages(health: alerts.Health) -> Metric:
    family = metrics.gauge(
        "textbridge_messages",
        "Messages stored, by direction, provider, channel and status",
        ("direction", "provider", "channel", "status"),
    )
    for labels, count in sorted(health.messages.items()):
        family.add_metric(list(labels), count)
    return family


def _waiting(health: alerts.Health) -> Metric:
    family = metrics.gauge(
        "textbridge_messages_waiting",
        "Outbound messages not yet answered by the provider, by state",
        ("state",),
    )
    for state in alerts.WAITING:
        count = sum(n for (_, _, _, status), n in health.messages.items() if status == state)
        family.add_metric([state], count)
    return family


def _journal(health: alerts.Health) -> list[Metric]:
    entries = metrics.gauge(
        "textbridge_journal_entries", "Webhook journal entries, by state", ("state",)
    )
    for state in journal.STATES:
        entries.add_metric([state], health.journal.get(state, 0))
    return [
        entries,
        GaugeMetricFamily(
            "textbridge_journal_backlog",
            "Webhooks journaled and not yet applied (state pending)",
            value=alerts.backlog(health),
        ),
        GaugeMetricFamily(
            "textbridge_journal_dead",
            "Webhooks that could not be applied after every retry (state dead)",
            value=health.journal.get(journal.DEAD, 0),
        ),
    ]


def _alert_families(health: alerts.Health, thresholds: alerts.Thresholds) -> list[Metric]:
    without_receipt = GaugeMetricFamily(
        "textbridge_messages_without_receipt",
        "Messages submitted or sent with no final report for TEXTBRIDGE_ALERT_NO_RECEIPT_MINUTES",
        value=health.without_receipt,
    )
    refused = GaugeMetricFamily(
        "textbridge_webhooks_refused_recent",
        "Webhooks refused for their signature within TEXTBRIDGE_ALERT_REFUSED_WINDOW_MINUTES",
        value=health.refused_recently,
    )
    firing = metrics.gauge(
        "textbridge_alert_firing", "1 when the alert condition holds now, else 0", ("alert",)
    )
    for alert in alerts.alerts(health, thresholds):
        firing.add_metric([alert.name], 1 if alert.firing else 0)
    return [without_receipt, refused, firing]
