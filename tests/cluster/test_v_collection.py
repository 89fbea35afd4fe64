"""shipyard as a user gets it: the collection built, installed and run from elsewhere.

`ansible-galaxy collection build` makes the tarball from this tree (galaxy.yml),
`ansible-galaxy collection install --offline` puts it into a temporary
collections path (its dependencies are the ones the ansible package bundles), and
from a directory outside the repository, with no ansible.cfg of ours and an
inventory of the test's own, the site converges on the local cluster through
`ansible-playbook shipyard.platform.site`; then a user's playbook calls one role,
`shipyard.platform.app_deploy`, alone into a namespace of its own. Real pods:
the app's pods serve on the real node.

Named test_v_...: it converges the site the other tests of this folder read, with
the same values, before the fault tests (test_x_..., test_y_...).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from realpods import KUBECONFIG, ROOT, app_objects, kubectl, kubectl_json, wait_for

BIN = Path(sys.executable).parent
NAMESPACE = "collection-user"

# What a user of the local cluster writes: where the cluster is, and what its
# simulated node and offline images need (the values of inventories/sandbox).
HOSTS = """\
---
all:
  children:
    controller:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""
SIMULATED = {
    "nodeSelector": {"type": "kwok"},
    "tolerations": [
        {"key": "node.shipyard.dev/simulated", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ],
}
GROUP_VARS = {
    "shipyard_cluster_type": "sandbox",
    "shipyard_kubeconfig": str(KUBECONFIG),
    "shipyard_kube_context": "local-shipyard",
    "shipyard_image_build_enabled": True,
    "image_build_target": "node",
    "image_build_node_containers": ["shipyard-node"],
    "image_build_base_image": "localhost/shipyard/debian:bookworm",
    "app_deploy_hpa_min_replicas": 2,
    "app_deploy_hpa_max_replicas": 3,
    "app_deploy_resources": {
        "requests": {"cpu": "50m", "memory": "96Mi"},
        "limits": {"cpu": "250m", "memory": "192Mi"},
    },
    "app_deploy_database": "postgresql",
    "app_deploy_postgres_storage_size": "256Mi",
    "app_deploy_postgres_resources": {
        "requests": {"cpu": "250m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "256Mi"},
    },
    "app_deploy_service_type": "NodePort",
    "app_deploy_service_node_port": 30080,
    "hardening_app_client_cidrs": ["172.16.0.0/12"],
    "monitoring_placement": {"grafana": SIMULATED, "kube_state_metrics": SIMULATED},
    "logging_placement": {k: SIMULATED for k in ("elasticsearch", "logstash", "kibana", "filebeat", "setup")},
}
# The README's list, warm_connection last; private_tmp because the run uses Mitogen.
SPEED_CALLBACKS = ["preload", "code_cache", "private_tmp", "vars_files_cache", "early_skip", "controller_actions",
                   "parsed_copy", "gc_tune", "warm_connection"]  # fmt: skip
CONTROLLER_VARS = {
    "shipyard_published_node_ports": {30080: "http://127.0.0.1:8080"},
    "shipyard_app_frontend_enabled": True,
}
# Not copied: image_build_revision_required (the installed app's source is not a git checkout).


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The tarball built and installed; the environment of a user who has only it."""
    out = tmp_path_factory.mktemp("build")
    build = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    (tarball,) = out.glob("shipyard-platform-*.tar.gz")
    path = tmp_path_factory.mktemp("collections")
    user = tmp_path_factory.mktemp("user")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(PATH=f"{BIN}:{env['PATH']}", ANSIBLE_COLLECTIONS_PATH=str(path), ANSIBLE_FORCE_COLOR="0")
    install = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(path), str(tarball)],
        cwd=user, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    assert (path / "ansible_collections/shipyard/platform/MANIFEST.json").is_file()
    inventory = user / "inventory"
    (inventory / "group_vars/all").mkdir(parents=True)
    (inventory / "group_vars/controller").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(HOSTS)
    (user / "hosts.yml").write_text(HOSTS)  # for the role alone: nothing but the host
    (inventory / "group_vars/all/site.yml").write_text("---\n" + json.dumps(GROUP_VARS, indent=2) + "\n")
    (inventory / "group_vars/controller/site.yml").write_text("---\n" + json.dumps(CONTROLLER_VARS) + "\n")
    return {"env": env, "user": str(user), "tarball": str(tarball)}


def run(installed: dict, *args: str, inventory: str = "inventory", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", inventory, *args],
        cwd=installed["user"], env={**installed["env"], **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, check=False, timeout=900,
    )  # fmt: skip


def tuned_config(installed: dict) -> Path:
    """A user's own ansible.cfg with the installed collection's speed plugins and Mitogen,
    written as the README's collection section says."""
    mitogen = Path(importlib.util.find_spec("ansible_mitogen").origin).parent  # where this Python has it
    cfg = Path(installed["user"]) / "tuned.cfg"
    cfg.write_text(
        textwrap.dedent(f"""\
        [defaults]
        strategy_plugins = {mitogen}/plugins/strategy
        strategy = mitogen_linear
        callbacks_enabled = {", ".join(f"shipyard.platform.{c}" for c in SPEED_CALLBACKS)}
        vars_plugins_enabled = ansible.builtin.host_group_vars, shipyard.platform.early_parse
        """)
    )
    return cfg


def recap(out: str) -> dict[str, int]:
    found = re.search(r"localhost\s+: (.*)", out.split("PLAY RECAP")[-1])
    assert found, out[-2000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", found.group(1))}


def test_the_tarball_holds_what_users_need_and_nothing_else(installed: dict) -> None:
    listing = subprocess.run(["tar", "tzf", installed["tarball"]], capture_output=True, text=True, check=True).stdout
    names = set(listing.split())
    assert {"MANIFEST.json", "meta/runtime.yml", "playbooks/site.yml", "plugins/modules/context_hash.py",
            "roles/app_deploy/meta/argument_specs.yml", "app/Dockerfile"} <= names  # fmt: skip
    leaked = [n for n in names if n.split("/")[0] in {"tests", "molecule", "hack", ".ci", ".venv", "collections"}]
    assert not leaked, leaked
    assert not [n for n in names if n.startswith("app/tests")]


def test_the_installed_site_converges_from_elsewhere(installed: dict) -> None:
    # With Ansible's defaults: no ansible.cfg, no Mitogen, none of the collection's plugins.
    before = app_objects()
    started = time.monotonic()
    first = run(installed, "shipyard.platform.site")
    stock = time.monotonic() - started
    assert first.returncode == 0, first.stdout[-4000:]
    # The sandbox inventory's values: every object the repository's site made is kept, none made anew.
    after = app_objects()
    assert after == before, (sorted(set(before) ^ set(after)), first.stdout[-2000:])
    assert "shipyard.platform.app_deploy : " in first.stdout  # the installed roles ran
    assert str(ROOT) not in first.stdout.replace(str(KUBECONFIG), "")  # nothing from this repository
    # The same values as the site converged from the repository: at most the build's tags change.
    # The rerun as a user who enabled the installed collection's speed plugins and Mitogen in
    # their own ansible.cfg: nothing changes, no plugin is missing, and it is much quicker.
    started = time.monotonic()
    again = run(installed, "shipyard.platform.site", ANSIBLE_CONFIG=str(tuned_config(installed)))
    tuned = time.monotonic() - started
    assert again.returncode == 0, again.stdout[-4000:]
    assert recap(again.stdout)["changed"] == 0, again.stdout[-4000:]
    assert "unable to load" not in again.stdout, again.stdout[-4000:]  # Ansible skips a callback it cannot load
    print(f"the site from the installed collection: {stock:.1f} s with Ansible's defaults, rerun {tuned:.1f} s tuned")
    assert tuned < stock / 2, (stock, tuned)
    deploy = kubectl_json("-n", "shipyard", "get", "deployment", "shipyard-app")
    assert deploy["status"].get("availableReplicas", 0) >= 2


def test_one_role_alone_from_a_users_playbook(installed: dict) -> None:
    image = kubectl_json("-n", "shipyard", "get", "deployment", "shipyard-app")["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    playbook = Path(installed["user"]) / "app.yml"
    playbook.write_text(
        textwrap.dedent(f"""\
        ---
        - name: The app alone, into a namespace of its own
          hosts: controller
          gather_facts: false
          module_defaults:  # as the role's README says
            group/kubernetes.core.k8s: {{kubeconfig: "{KUBECONFIG}", context: local-shipyard}}
            kubernetes.core.k8s_cluster_info: {{kubeconfig: "{KUBECONFIG}", context: local-shipyard}}
          tasks:
            - name: Deploy it with the collection's role
              ansible.builtin.include_role:
                name: shipyard.platform.app_deploy
              vars:
                app_deploy_namespace: {NAMESPACE}
                app_deploy_image_reference: "{image}"
                app_deploy_database: sqlite
                app_deploy_hpa_enabled: false
                app_deploy_replicas: 1
                app_deploy_state: "{{{{ state | default('present') }}}}"
        """)
    )
    try:
        deployed = run(installed, "app.yml", inventory="hosts.yml")
        assert deployed.returncode == 0, deployed.stdout[-4000:]
        pods = kubectl_json("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=shipyard-app")["items"]
        assert [p["spec"]["nodeName"] for p in pods if p["status"]["phase"] == "Running"]
        health = kubectl("-n", NAMESPACE, "get", "--raw",
                         f"/api/v1/namespaces/{NAMESPACE}/services/shipyard-app:http/proxy/health").stdout  # fmt: skip
        assert json.loads(health)["status"] == "ok"
        again = run(installed, "app.yml", inventory="hosts.yml")
        assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout[-4000:]
        # A role alone takes no site lock, so it leaves none behind for the next run to wait on.
        lease = kubectl("-n", "default", "get", "lease", "shipyard-site", check=False)
        assert "NotFound" in lease.stderr, lease.stdout
    finally:
        removed = run(installed, "app.yml", "-e", "state=absent", inventory="hosts.yml")
    assert removed.returncode == 0, removed.stdout[-4000:]
    wait_for(f"namespace {NAMESPACE} gone", lambda: NAMESPACE not in kubectl("get", "namespaces").stdout, timeout=120)
