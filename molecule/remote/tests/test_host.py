"""The remote host after playbooks/bootstrap.yml, read with testinfra over SSH as the
inventory's user, as that user meets it (ssh:// backend, no sudo): the session is a real
SSH login to the test host, the engine runs, starts at boot and serves the user, the kernel
settings are live and persisted, and the pinned tools run from PATH at the role's versions.
verify.yml keeps in Ansible what testinfra cannot do: drive kind with the rendered config."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

ROLES = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "roles"
PINNED = yaml.safe_load((ROLES / "k8s_tools/defaults/main.yml").read_text())
SYSCTLS = {"fs.inotify.max_user_watches": 524288, "fs.inotify.max_user_instances": 512, "vm.max_map_count": 262144}


def test_the_session_is_an_ssh_login_as_the_inventorys_user(host) -> None:
    assert host.check_output("hostname") == "shipyard-remote-host"
    assert host.user().name == os.environ["SHIPYARD_REMOTE_USER"]
    assert host.check_output("printenv SSH_CONNECTION").split()[3] == "22"


def test_the_engine_runs_at_boot_and_serves_the_user_without_sudo(host) -> None:
    assert host.service("docker").is_running and host.service("docker").is_enabled
    assert "docker" in host.user().groups
    engine = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert engine["CgroupDriver"] == "systemd" and engine["LiveRestoreEnabled"] is True


def test_the_kernel_settings_are_live_and_persisted(host) -> None:
    persisted = host.file("/etc/sysctl.d/90-shipyard.conf")
    for key, value in SYSCTLS.items():
        assert host.sysctl(key) >= value, key
        assert persisted.contains(rf"^{key}\s*=\s*{value}$"), key


def test_the_pinned_tools_run_from_path(host) -> None:
    for tool in ("kubectl", "kind", "helm"):
        path = host.check_output(f"command -v {tool}")
        assert path == f"/usr/local/bin/{tool}"
        found = host.file(path)
        assert (found.user, found.mode) == ("root", 0o755)
    kubectl = json.loads(host.check_output("kubectl version --client --output=json"))
    assert kubectl["clientVersion"]["gitVersion"] == PINNED["k8s_tools_kubectl_version"]
    assert host.check_output("kind version").startswith(f"kind {PINNED['k8s_tools_kind_version']} ")
    assert host.check_output("helm version --short").startswith(PINNED["k8s_tools_helm_version"])
