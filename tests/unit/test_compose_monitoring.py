"""The `monitoring` compose profile, checked without a Docker engine: Prometheus scrapes every
service of `make run` on its port, the files it mounts exist, and the alert rules and the
Grafana dashboard only query metric families the services really export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

from infra.processes import OPTIONAL, SERVICES
from services.common.kafka import make_broker
from services.common.settings import KafkaSettings
from tests.deploy import COMPOSE, compose

MONITORING = COMPOSE.parent / "monitoring"
PROMQL_NAME = re.compile(r"\b((?:sync|faststream)_[a-z_]+)")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def exported_samples() -> set[str]:
    """Every sample name the services can export (importing services.common.kafka registers
    the sync_* families)."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names |= {f"{family.name}{s}" for s in ("_total", "_bucket", "_count", "_sum")}
    return names


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    config = load(MONITORING / "prometheus.yml")
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == {f"{p.name}:{p.port}" for p in (*SERVICES, *OPTIONAL)}
    assert all(job["metrics_path"] == "/metrics" for job in config["scrape_configs"])
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_every_file_the_monitoring_containers_mount_exists() -> None:
    for name in ("prometheus", "grafana"):
        for volume in compose()["services"][name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (COMPOSE.parent / source).exists(), source


def queried_metrics() -> dict[str, set[str]]:
    rules = [r for g in load(MONITORING / "alerts.yml")["groups"] for r in g["rules"]]
    dashboard = json.loads((MONITORING / "grafana/dashboards/sync.json").read_text("utf-8"))
    exprs = {f"alert {r['alert']}": r["expr"] for r in rules}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            exprs[f"panel {panel['title']} {target['refId']}"] = target["expr"]
    return {where: set(PROMQL_NAME.findall(expr)) for where, expr in exprs.items()}


def test_alerts_and_dashboard_query_only_exported_metrics() -> None:
    # A broker built here makes FastStream's middleware register its families in this process.
    make_broker(KafkaSettings(), client_id="monitoring-test")
    exported = exported_samples()
    queried = queried_metrics()
    assert queried, "no expressions found"
    unknown = {where: names - exported for where, names in queried.items() if names - exported}
    assert unknown == {}


def test_the_example_alerts_cover_lag_age_dead_letters_and_failing_upstreams() -> None:
    rules = {r["alert"]: r for g in load(MONITORING / "alerts.yml")["groups"] for r in g["rules"]}
    assert "sync_consumer_oldest_waiting_age_seconds" in rules["SyncLagOld"]["expr"]
    assert "sync_dead_letters_written_total" in rules["SyncDeadLettersWaiting"]["expr"]
    assert "sync_upstream_requests_total" in rules["SyncUpstreamFailing"]["expr"]
    assert all(r["annotations"]["summary"] for r in rules.values())
