"""Prometheus and Alertmanager as real containers on the local cluster's node:
they discover the app's pods, scrape them, evaluate the app's rules and deliver
the Watchdog. Reached through the API server's service proxy."""

from __future__ import annotations

import json
from typing import Any

from realpods import APP_NAMESPACE, MONITORING_NAMESPACE, kubectl, kubectl_json, wait_for


def proxy(service: str, path: str) -> Any:
    raw = kubectl("get", "--raw", f"/api/v1/namespaces/{MONITORING_NAMESPACE}/services/{service}/proxy{path}")
    return json.loads(raw.stdout)


def app_pod_ips() -> set[str]:
    pods = kubectl_json("-n", APP_NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=shipyard-app")["items"]
    return {p["status"]["podIP"] for p in pods if p["status"].get("phase") == "Running" and p["status"].get("podIP")}


def test_prometheus_runs_for_real() -> None:
    pods = kubectl_json("-n", MONITORING_NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=prometheus")["items"]
    assert pods and pods[0]["spec"]["nodeName"] == "shipyard-node"
    build = proxy("prometheus:web", "/api/v1/status/buildinfo")["data"]
    assert build["version"] == "3.5.0", build


def test_prometheus_finds_every_app_pod_and_scrapes_it() -> None:
    def every_pod_up() -> bool:
        result = proxy("prometheus:web", '/api/v1/query?query=up{job="shipyard-app"}')["data"]["result"]
        scraped = {r["metric"]["instance"].rsplit(":", 1)[0]: r["value"][1] for r in result}
        return set(scraped) >= app_pod_ips() and all(scraped[ip] == "1" for ip in app_pod_ips())

    wait_for("up == 1 for every app pod", every_pod_up, timeout=150, every=5)
    # The series come from the app's own metrics, not only from the scrape.
    result = proxy("prometheus:web", '/api/v1/query?query=count(http_requests_total{job="shipyard-app"})')["data"][
        "result"
    ]
    assert result and int(result[0]["value"][1]) > 0, result


def test_the_app_rules_evaluate_on_the_scraped_data() -> None:
    def evaluated() -> bool:
        groups = proxy("prometheus:web", "/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return bool(rules) and all(r["health"] == "ok" and r["lastEvaluation"][:4] != "0001" for r in rules)

    wait_for("every rule evaluated once, healthy", evaluated, timeout=150, every=5)
    groups = proxy("prometheus:web", "/api/v1/rules")["data"]["groups"]
    names = {r["name"] for g in groups for r in g["rules"]}
    assert {"Watchdog", "ShipyardAppTargetDown", "ShipyardAppHighErrorRatio"} <= names, names
    # The app is healthy: none of its own alerts fire.
    firing = {r["name"] for g in groups for r in g["rules"] if r.get("state") == "firing"}
    assert firing == {"Watchdog"}, firing


def test_the_watchdog_reaches_alertmanager() -> None:
    def delivered() -> bool:
        alerts = proxy("alertmanager:web", "/api/v2/alerts")
        return any(a["labels"]["alertname"] == "Watchdog" for a in alerts)

    wait_for("the Watchdog in Alertmanager", delivered, timeout=180, every=5)
