"""The site's last play, for every inventory: it reads what runs from the
cluster, so it needs no variable that only one inventory defines (it used to
fail on the kind and remote inventories). Each inventory is pointed at the
local cluster, where the site runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from realpods import KUBECONFIG, ROOT

INVENTORIES = sorted(p.name for p in (ROOT / "inventories").iterdir() if (p / "hosts.yml").is_file())


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_summary_runs_on_every_inventory(cluster: Path, inventory: str) -> None:
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", f"inventories/{inventory}",
         "playbooks/summary.yml", "-e", f"shipyard_kubeconfig={KUBECONFIG}",
         "-e", "shipyard_kube_context=local-shipyard"],
        cwd=ROOT, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    assert "WORKLOAD" in run.stdout
    assert "shipyard/shipyard-app " in run.stdout and " real " in run.stdout
    if inventory == "sandbox":
        assert "http://127.0.0.1:" in run.stdout
        assert "simulated by kwok" in run.stdout
