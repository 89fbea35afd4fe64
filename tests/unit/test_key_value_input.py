"""A value given as `-e name=value` means what the same value given as JSON means.

`-e name=value` (the form `make up ARGS=...` and most users write) hands every
value to the site as a string: `-e app_deploy_replicas=3` is "3", `-e
app_deploy_hpa_enabled=false` is "false". The roles' argument specs accept such
strings for int, float and bool options, so the roles must read them as the
numbers and booleans they stand for. Before this test `-e app_deploy_replicas=3`
stopped every run in the app's input check ('>=' not supported between str and
int), and `-e app_deploy_hpa_enabled=false` rendered an autoscaler ("false" is a
true string in a template), as `=false` did for the deployer account, the
namespaces a role manages and Logstash. Each role's number and boolean options
that an inventory may set (not the ones the site wires from a shared value) are
given once as JSON values and once as the strings `name=value` makes of them;
the two renders must be the same files, byte for byte. The values are the
roles' defaults, each boolean flipped (so that the branch a default skips is
rendered too). tests/cluster/test_key_value.py converges the site so.
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
from pathlib import Path

import pytest
from typed_options import as_key_value, typed_options

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
# The roles playbooks/render.yml runs (the bootstrap's are checked there, not rendered).
ROLES = [
    *("app_deploy", "logging", "monitoring", "hardening", "image_build"),
    *("container_runtime", "k8s_tools", "kind_cluster"),
]
# Booleans kept at their default: the other value needs more input than this test gives.
KEEP = {"app_deploy_ingress_enabled": "needs app_deploy_ingress_host"}


def values() -> dict[str, object]:
    return {
        name: (not default if kind == "bool" and name not in KEEP else default)
        for name, (kind, default) in typed_options(ROLES).items()
    }


def render(inventory: str, out: Path, variables: dict[str, object]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", f"inventories/{inventory}", "playbooks/render.yml",
         "-e", f"shipyard_render_dir={out}", "-e", json.dumps(variables)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def differences(left: Path, right: Path) -> list[str]:
    found: list[str] = []

    def walk(compared: filecmp.dircmp, at: str) -> None:
        found.extend(f"{at}{name}" for name in compared.left_only + compared.right_only + compared.diff_files)
        for name, sub in compared.subdirs.items():
            walk(sub, f"{at}{name}/")

    walk(filecmp.dircmp(left, right, ignore=[]), "")
    return found


@pytest.mark.parametrize("inventory", ["sandbox", "kind"])
def test_numbers_and_booleans_given_as_name_value_render_as_the_json_values(inventory: str, tmp_path: Path) -> None:
    typed = values()
    assert {"app_deploy_replicas", "app_deploy_hpa_enabled", "logging_retention_days"} <= set(typed)
    as_json = render(inventory, tmp_path / "json", typed)
    assert as_json.returncode == 0, as_json.stdout[-3000:]
    as_strings = render(inventory, tmp_path / "strings", {name: as_key_value(v) for name, v in typed.items()})
    assert as_strings.returncode == 0, as_strings.stdout[-3000:]
    assert not differences(tmp_path / "json", tmp_path / "strings")
