"""The rendered Prometheus, Alertmanager and Grafana files pass the real tools."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import render

HERE = Path(__file__).resolve().parent


def run(*cmd: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False, cwd=cwd)


def test_rules_pass_promtool_check(rendered: Path, tools: dict[str, Path]) -> None:
    result = run(tools["promtool"], "check", "rules", rendered / "files/shipyard.rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 10 rules found" in result.stdout


def test_every_alert_has_summary_description_and_runbook(rendered: Path) -> None:
    groups = yaml.safe_load((rendered / "files/shipyard.rules.yml").read_text())["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert {a["alert"] for a in alerts} >= {
        "Watchdog", "ShipyardAppTargetDown", "ShipyardAppHighErrorRatio", "ShipyardAppHighLatencyP99",
        "ShipyardAppPodRestarting", "ShipyardAppReplicasUnavailable", "ShipyardBackupFailed",
    }  # fmt: skip
    for alert in alerts:
        assert {"summary", "description", "runbook"} <= set(alert["annotations"]), alert["alert"]
        assert alert["labels"].get("severity") in {"none", "warning", "critical"}, alert["alert"]
    # kind exposes no scheduler, controller-manager or etcd: no alert may watch them.
    exprs = " ".join(a["expr"] for a in alerts)
    assert not re.search(r"kube-?scheduler|controller-?manager|etcd|apiserver", exprs)


def test_config_passes_promtool_check_config(rendered: Path, tools: dict[str, Path], tmp_path: Path) -> None:
    # The deployed config reads its rules from the pod's mount; point it at the rendered ones.
    config = (rendered / "files/prometheus.yml").read_text()
    assert "/etc/prometheus/rules/*.yml" in config
    shutil.copy(rendered / "files/shipyard.rules.yml", tmp_path)
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/rules/*.yml", "shipyard.rules.yml"))
    result = run(tools["promtool"], "check", "config", tmp_path / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 10 rules found" in result.stdout


def test_alert_rules_fire_and_stay_quiet_as_specified(rendered: Path, tools: dict[str, Path], tmp_path: Path) -> None:
    shutil.copy(rendered / "files/shipyard.rules.yml", tmp_path)
    shutil.copy(HERE / "shipyard.rules.test.yml", tmp_path)
    result = run(tools["promtool"], "test", "rules", "shipyard.rules.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_each_tenants_alerts_carry_it_and_fire_for_it_alone(tools: dict[str, Path], tmp_path: Path) -> None:
    # inventories/tenants: one ShipyardAppAbsent per tenant, the others over both namespaces.
    rendered = render(tmp_path / "render", inventory="tenants")
    rules = rendered / "files/shipyard.rules.yml"
    check = run(tools["promtool"], "check", "rules", rules)
    assert "SUCCESS: 11 rules found" in check.stdout, check.stdout + check.stderr
    shutil.copy(rules, tmp_path)
    shutil.copy(HERE / "tenants.rules.test.yml", tmp_path)
    result = run(tools["promtool"], "test", "rules", "tenants.rules.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # Prometheus gives each tenant's pods and kube-state-metrics' series of its namespace the tenant label.
    config = yaml.safe_load((rendered / "files/prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    for key, job in (("relabel_configs", "kubernetes-pods"), ("metric_relabel_configs", "kube-state-metrics")):
        tenants = {(r["regex"], r["replacement"]) for r in jobs[job][key] if r.get("target_label") == "tenant"}
        assert tenants == {("tenant-a", "tenant-a"), ("tenant-b", "tenant-b")}, job


def test_unit_tests_catch_a_broken_rule(rendered: Path, tools: dict[str, Path], tmp_path: Path) -> None:
    # The unit tests must be able to fail: with the error threshold raised to 50%, they do.
    rules = (rendered / "files/shipyard.rules.yml").read_text()
    assert "> 0.05" in rules
    (tmp_path / "shipyard.rules.yml").write_text(rules.replace("> 0.05", "> 0.5"))
    shutil.copy(HERE / "shipyard.rules.test.yml", tmp_path)
    result = run(tools["promtool"], "test", "rules", "shipyard.rules.test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "ShipyardAppHighErrorRatio" in result.stdout + result.stderr


def dashboard_queries(dashboard: dict, namespace: str = "shipyard", window: str = "5m") -> list[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs.append(dashboard["templating"]["list"][0]["definition"].removeprefix("label_values(").rsplit(",", 1)[0])
    return [e.replace("$__rate_interval", window).replace("$namespace", namespace) for e in exprs]


def test_dashboard_queries_pass_promtool(rendered: Path, tools: dict[str, Path], tmp_path: Path) -> None:
    dashboard = json.loads((rendered / "files/shipyard-app.json").read_text())
    queries = dashboard_queries(dashboard)
    assert len(queries) >= 10
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": q} for i, q in enumerate(queries)]}]}  # fmt: skip
    (tmp_path / "dashboard.rules.yml").write_text(yaml.safe_dump(rules))
    result = run(tools["promtool"], "check", "rules", tmp_path / "dashboard.rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_uses_the_provisioned_datasource(rendered: Path) -> None:
    datasources = yaml.safe_load((rendered / "files/grafana-datasources.yml").read_text())["datasources"]
    uids = {d["uid"] for d in datasources if d["type"] == "prometheus"}
    dashboard = json.loads((rendered / "files/shipyard-app.json").read_text())
    used = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    used.add(dashboard["templating"]["list"][0]["datasource"]["uid"])
    assert used == uids == {"shipyard-prometheus"}
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for needed in ("request", "error", "latency", "in-flight", "replicas"):
        assert needed in titles


RECEIVERS = {
    "monitoring_alertmanager_default_receiver": "ops",
    "monitoring_alertmanager_watchdog_receiver": "deadmansswitch",
    "monitoring_alertmanager_receivers": [
        {"name": "ops",
         "slack_configs": [{"api_url": "https://hooks.slack.test/services/T0/B0/SeCrEt-slack", "channel": "#ops"}],
         "email_configs": [{"to": "ops@example.test", "auth_password": "SeCrEt-smtp"}]},
        {"name": "deadmansswitch", "webhook_configs": [{"url": "https://dms.example.test/ping/SeCrEt-dms"}]},
    ],
    "monitoring_alertmanager_smtp": {"smtp_smarthost": "smtp.example.test:587", "smtp_from": "alerts@example.test"},
}  # fmt: skip


def test_alertmanager_config_passes_amtool_and_hides_secrets(tools: dict[str, Path], tmp_path: Path) -> None:
    out = render(tmp_path / "render", RECEIVERS)
    rendered_text = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "SeCrEt" not in rendered_text, "a receiver secret reached the rendered files"
    result = run(tools["amtool"], "check-config", out / "files/alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((out / "files/alertmanager.yml").read_text())
    assert config["route"]["receiver"] == "ops"
    watchdog = {"matchers": ['alertname="Watchdog"'], "receiver": "deadmansswitch", "group_wait": "0s",
                "repeat_interval": "1m"}  # fmt: skip
    assert config["route"]["routes"][0] == watchdog
    assert {r["name"] for r in config["receivers"]} == {"null", "ops", "deadmansswitch"}


def test_a_route_to_an_unknown_receiver_is_refused_by_name(tmp_path: Path) -> None:
    import os  # noqa: PLC0415

    root = HERE.parents[1]
    result = subprocess.run(
        ["ansible-playbook", "-i", "inventories/sandbox", "playbooks/render.yml",
         "-e", f"shipyard_render_dir={tmp_path}", "-e", '{"monitoring_alertmanager_default_receiver": "pager"}'],
        cwd=root, env={**os.environ, "ANSIBLE_CONFIG": str(root / "ansible.cfg")}, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "monitoring_alertmanager_default_receiver" in result.stdout
    assert not (tmp_path / "monitoring").exists()


def test_the_dev_profile_footprint_is_the_documented_one(rendered: Path) -> None:
    sys.path.insert(0, str(HERE.parents[1] / "hack"))
    from footprint import footprint  # noqa: PLC0415

    # README and argument_specs state these sums; a profile change must update them.
    assert footprint(rendered.parent)["monitoring"] == {"cpu_m": 170, "memory_mi": 416, "pods": 4}
