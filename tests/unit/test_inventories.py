"""Every inventory parses, names its cluster, and the site playbook is valid against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INVENTORIES = sorted(p.name for p in (ROOT / "inventories").iterdir() if (p / "hosts.yml").is_file())
BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_inventory_has_a_controller_and_a_cluster(inventory: str) -> None:
    run = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", f"inventories/{inventory}", "--host", "localhost"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, check=True,
    )  # fmt: skip
    host = json.loads(run.stdout)
    assert host["shipyard_cluster_type"] in {"sandbox", "kind", "remote", "cluster"}
    assert {"kubeconfig", "context"} <= set(host["shipyard_k8s_auth"])


@pytest.mark.parametrize("playbook", ["site", "teardown"])
@pytest.mark.parametrize("inventory", INVENTORIES)
def test_playbooks_are_valid_for_the_inventory(inventory: str, playbook: str) -> None:
    run = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", f"inventories/{inventory}", "--syntax-check",
         f"playbooks/{playbook}.yml"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr


def test_the_expected_inventories_exist() -> None:
    assert set(INVENTORIES) >= {"sandbox", "kind", "remote", "staging", "cluster"}


@pytest.mark.parametrize("inventory", ["kind", "remote"])
def test_the_building_inventories_render(inventory: str, tmp_path: Path) -> None:
    # make render and make artifacts work without a cluster where the image is built at converge too
    # (make scan renders the others).
    run = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", f"inventories/{inventory}", "playbooks/render.yml",
         "-e", f"shipyard_render_dir={tmp_path}"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    assert {p.name for p in tmp_path.iterdir()} == {"app", "monitoring", "logging", "hardening"}


def test_site_never_tears_down() -> None:
    site = (ROOT / "playbooks/site.yml").read_text()
    assert "teardown" not in site
