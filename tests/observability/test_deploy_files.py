"""The Grafana dashboard and the Prometheus rules in `deploy/` name only metrics `/metrics`
exposes, and the rules file has the structure Prometheus loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from textbridge import alerts, metrics
from textbridge.api.observability import database_families

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\btextbridge_[a-z_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exposed_names() -> set[str]:
    """Every sample name `/metrics` can show (a labelled instrument with no sample yet still
    shows its `# TYPE` line)."""
    quiet = alerts.Health(messages={}, journal={}, without_receipt=0, refused_recently=0)
    thresholds = alerts.Thresholds(60, 15, 10, 100)
    collectors = (metrics.local_collector(), metrics.Snapshot(database_families(quiet, thresholds)))
    text = metrics.exposition(*collectors).decode()
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in SUFFIXES[family.type]
    }


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "textbridge.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def rules() -> list[dict[str, object]]:
    loaded = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    assert isinstance(loaded, dict)
    assert set(loaded) == {"groups"}
    found: list[dict[str, object]] = []
    for group in loaded["groups"]:
        assert isinstance(group["name"], str)
        assert group["rules"]
        found.extend(group["rules"])
    return found


def test_the_dashboard_names_only_exposed_metrics() -> None:
    named = {name for expr in dashboard_expressions() for name in METRIC.findall(expr)}
    assert len(named) >= 10
    assert named <= exposed_names(), named - exposed_names()


def test_the_dashboard_shows_every_metric_family() -> None:
    named = {name for expr in dashboard_expressions() for name in METRIC.findall(expr)}
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in named}
    exposed = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in exposed_names()}
    assert exposed <= families, exposed - families


def test_the_alert_rules_parse_and_name_only_exposed_metrics() -> None:
    found = rules()
    assert len(found) >= 3
    for rule in found:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert isinstance(rule["alert"], str)
        assert re.fullmatch(r"[A-Za-z]+", rule["alert"])
        assert isinstance(rule["expr"], str)
        assert set(METRIC.findall(rule["expr"])) <= exposed_names(), rule["expr"]
        labels = rule.get("labels", {})
        assert isinstance(labels, dict)
        assert labels.get("severity") in ("warning", "critical")
        assert "summary" in rule["annotations"]  # type: ignore[operator]
    every_alert = {alerts.NO_RECEIPT, alerts.REFUSED_SIGNATURES, alerts.JOURNAL_BACKLOG}
    named = {
        match for rule in found for match in re.findall(r'alert="([a-z_]+)"', str(rule["expr"]))
    }
    assert named == every_alert
