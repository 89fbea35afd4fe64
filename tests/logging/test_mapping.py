"""The app's real log lines fit the index template the logging role installs.

The app runs under its real server; its JSON lines get the same treatment as in
Filebeat (ndjson with expand_keys: dotted keys become objects), then every field
is checked against the rendered mapping: it must be mapped explicitly (not left
to dynamic mapping), and its value must be what Elasticsearch accepts for the type.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "hack"))
from appserver import start_app  # noqa: E402


@pytest.fixture(scope="module")
def mapping(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("render")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    run = subprocess.run(
        ["ansible-playbook", "-i", "inventories/sandbox", "playbooks/render.yml", "-e", f"shipyard_render_dir={out}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    template = json.loads((out / "logging/files/index-template.json").read_text())
    assert template["index_patterns"] == ["logs-shipyard-*"]
    assert template["data_stream"] == {}
    return template["template"]["mappings"]


def request(url: str, method: str = "GET", body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


@pytest.fixture(scope="module")
def log_records(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Every line the real app wrote while answering a mix of good and bad requests."""
    run_dir = tmp_path_factory.mktemp("app")
    log_path = run_dir / "stdout.log"
    with log_path.open("w") as log:
        app, url = start_app(run_dir, {"APP_FAULT_INJECTION_ENABLED": "true", "APP_API_TOKEN": "t" * 32}, stdout=log)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if request(f"{url}/health") == 200:
                        break
                except OSError:
                    time.sleep(0.3)
            statuses = {
                request(f"{url}/api/items"), request(f"{url}/nope"), request(f"{url}/faults/error?status=503"),
                request(f"{url}/faults/delay?ms=50"), request(f"{url}/api/items", "POST", {"name": "x"}),
                request(f"{url}/api/items", "DELETE"),
            }  # fmt: skip
        finally:
            app.terminate()
            app.wait(timeout=30)
    assert {200, 404, 503, 401, 405} <= statuses, statuses
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]


def expand(record: dict) -> dict:
    """What Filebeat's ndjson parser does with expand_keys: 'a.b': 1 becomes {'a': {'b': 1}}."""
    out: dict = {}
    for key, value in record.items():
        node = out
        *parents, leaf = key.split(".") if not key.startswith("@") else [key]
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def is_date(item: object) -> bool:
    try:
        datetime.fromisoformat(str(item).replace("Z", "+00:00"))
    except ValueError:
        return False
    return isinstance(item, str)


def is_ip(item: object) -> bool:
    try:
        ipaddress.ip_address(item)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


# What Elasticsearch accepts for each mapped type (strict: no coercion of "200" into a long).
CHECKS = {
    "date": is_date,
    "long": lambda item: isinstance(item, int) and not isinstance(item, bool),
    "keyword": lambda item: isinstance(item, str),
    "wildcard": lambda item: isinstance(item, str),
    "match_only_text": lambda item: isinstance(item, str),
    "ip": is_ip,
}


def accepts(field_type: str, value: object) -> bool:
    check = CHECKS.get(field_type)
    return check is not None and all(check(item) for item in (value if isinstance(value, list) else [value]))


def violations(mapping: dict, record: dict, path: str = "") -> list[str]:
    found = []
    properties = mapping.get("properties", {})
    for key, value in record.items():
        where = f"{path}{key}"
        if key not in properties:
            found.append(f"{where}: not mapped explicitly")
        elif "properties" in properties[key]:
            if not isinstance(value, dict):
                found.append(f"{where}: an object is mapped, got {value!r}")
            else:
                found += violations(properties[key], value, f"{where}.")
        elif not accepts(properties[key]["type"], value):
            found.append(f"{where}: {properties[key]['type']} does not accept {value!r}")
    return found


def test_every_app_log_line_fits_the_mapping(mapping: dict, log_records: list[dict]) -> None:
    assert len(log_records) >= 10
    problems = {p for record in log_records for p in violations(mapping, expand(record))}
    assert problems == set(), sorted(problems)


def test_the_typed_fields_are_really_there(mapping: dict, log_records: list[dict]) -> None:
    access = [expand(r) for r in log_records if r.get("log.logger") == "shipyard_app.access"]
    assert len(access) >= 6
    props = mapping["properties"]
    assert props["@timestamp"]["type"] == "date"
    assert props["http"]["properties"]["response"]["properties"]["status_code"]["type"] == "long"
    assert props["event"]["properties"]["duration"]["type"] == "long"
    assert {a["http"]["response"]["status_code"] for a in access} >= {200, 404, 503}
    assert all(isinstance(a["event"]["duration"], int) and a["event"]["duration"] > 0 for a in access)
    # The token the app was given never reaches its logs.
    assert all("t" * 32 not in json.dumps(r) for r in log_records)


def test_the_check_catches_a_wrong_type(mapping: dict) -> None:
    # The check must be able to fail: a status code as text, a bad timestamp and an unmapped field.
    bad = expand({"@timestamp": "yesterday", "http.response.status_code": "200", "surprise": 1})
    assert sorted(violations(mapping, bad)) == [
        "@timestamp: date does not accept 'yesterday'",
        "http.response.status_code: long does not accept '200'",
        "surprise: not mapped explicitly",
    ]


def test_each_tenants_lines_carry_the_tenant(tmp_path: Path) -> None:
    # inventories/tenants: the shipper's input for each tenant's namespace adds labels.tenant, which
    # the index template maps as a keyword. (Offline the shipper runs on the simulated node: this is
    # the rendered configuration, not a shipped line.)
    import yaml  # noqa: PLC0415

    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    run = subprocess.run(
        ["ansible-playbook", "-i", "inventories/tenants", "playbooks/render.yml",
         "-e", f"shipyard_render_dir={tmp_path}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    inputs = yaml.safe_load((tmp_path / "logging/files/filebeat.yml").read_text())["filebeat.inputs"]
    tenants = {}
    for entry in inputs:
        namespace = entry["id"].removeprefix("containers-")
        added = [p["add_fields"] for p in entry["processors"] if "add_fields" in p]
        tenants[namespace] = [a["fields"]["tenant"] for a in added if a["target"] == "labels"]
    assert tenants == {"tenant-a": ["tenant-a"], "tenant-b": ["tenant-b"]}
    template = json.loads((tmp_path / "logging/files/index-template.json").read_text())
    assert template["template"]["mappings"]["properties"]["labels"] == {"properties": {"tenant": {"type": "keyword"}}}
