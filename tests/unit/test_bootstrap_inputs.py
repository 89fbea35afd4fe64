"""A bad input for the bootstrap's roles stops the site before any cluster host is reached.

The bootstrap (container_runtime, k8s_tools, kind_cluster on `cluster_hosts`)
runs before everything else that changes something. Each of its roles checked
its inputs only at its own start, so a bad kind_cluster value was refused after
the engine and the tools had been installed on every host. The site now checks
them first, in playbooks/inputs.yml, without connecting to any host.

The run: `inventories/remote` (its host is an example address), every host
pointed at a closed port on 127.0.0.1 (a port this test bound and released), so
a run that goes as far as the bootstrap fails UNREACHABLE on loopback and never
leaves this machine. With good inputs it does: the control case shows that these
runs reach the host when nothing refuses them, so the refusals below can fail.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
BOOTSTRAP = "PLAY [Bootstrap the cluster hosts]"

# (variable, bad value, what the refusal says)
CASES = [
    ("container_runtime_log_max_size", "10 megs", 'container_runtime_log_max_size: "10 megs" is not a size'),
    ("container_runtime_users", ["deploy", "Ops Team"], 'container_runtime_users: ["Ops Team"] not user names'),
    ("k8s_tools_helm_version", "3.19.5", 'k8s_tools_helm_version: "3.19.5" is not a release like v3.19.5'),
    ("k8s_tools_mirror_url", "mirror.example", "k8s_tools_mirror_url is empty (the publishers' sites) or an http"),
    ("kind_cluster_name", "Shipyard_Dev", 'kind_cluster_name: "Shipyard_Dev" is not a DNS label'),
    ("kind_cluster_api_server_port", 70000, "kind_cluster_api_server_port (70000) is not a port number"),
    # A string, as `-e kind_cluster_worker_count=-1` gives it: the spec accepts it as an int, the rule compares it.
    ("kind_cluster_worker_count", "-1", "kind_cluster_worker_count (-1) is 0 or more"),
]


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A loopback port nothing listens on: bound by the OS's choice, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bootstrap(port: int, extra: dict | None = None) -> subprocess.CompletedProcess:
    """The site's bootstrap on inventories/remote, its hosts at 127.0.0.1:<port>."""
    variables = {"ansible_host": "127.0.0.1", "ansible_port": port, **(extra or {})}
    return subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "inventories/remote", "playbooks/site.yml",
         "--tags", "bootstrap", "-e", json.dumps(variables)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_with_good_inputs_the_run_goes_on_to_the_host(closed_port: int) -> None:
    run = bootstrap(closed_port)
    assert run.returncode != 0
    assert BOOTSTRAP in run.stdout, run.stdout[-3000:]
    assert "UNREACHABLE" in run.stdout and f"port {closed_port}" in run.stdout, run.stdout[-3000:]


@pytest.mark.parametrize(("variable", "value", "named"), CASES, ids=[case[0] for case in CASES])
def test_a_bad_input_is_refused_before_any_host_is_reached(
    closed_port: int, variable: str, value: object, named: str
) -> None:
    run = bootstrap(closed_port, {variable: value})
    assert run.returncode != 0
    assert named in " ".join(run.stdout.split()), run.stdout[-3000:]
    assert "PLAY [Check the cluster hosts' inputs]" in run.stdout
    assert BOOTSTRAP not in run.stdout, "the bootstrap started: " + run.stdout[-3000:]
    assert "UNREACHABLE" not in run.stdout, run.stdout[-3000:]
