"""Every inventory parses, names its cluster, and the site playbook is valid against it."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
    assert host["shipyard_kubeconfig"] and host["shipyard_kube_context"]


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


# What an inventory may define, and where shared values live. Ansible ranks
# playbook group_vars/all above an inventory's group_vars/all: a value set in both
# places is silently the playbook's. The site's shared names are defined once
# (playbooks/group_vars/all) and handed to the roles (playbooks/vars/wiring.yml).
SITE_DEFAULTS = {
    k: v
    for f in sorted((ROOT / "playbooks/group_vars/all").glob("*.yml"))
    for k, v in (yaml.safe_load(f.read_text()) or {}).items()
}
WIRED = yaml.safe_load((ROOT / "playbooks/vars/wiring.yml").read_text())
ROLE_OPTIONS = {
    name
    for spec in (ROOT / "roles").glob("*/meta/argument_specs.yml")
    for entry in (yaml.safe_load(spec.read_text())["argument_specs"] or {}).values()
    for name in (entry.get("options") or {})
}


@functools.cache
def inventory_vars(inventory: str) -> dict:
    """What the inventory defines for the controller (ansible-inventory reads no playbook group_vars)."""
    run = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", f"inventories/{inventory}", "--host", "localhost"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {k: v for k, v in json.loads(run.stdout).items() if not k.startswith(("ansible_", "vault_"))}


def group_all_keys(inventory: str) -> set[str]:
    return {
        k for f in (ROOT / "inventories" / inventory / "group_vars/all").glob("*.yml")
        for k in (yaml.safe_load(f.read_text()) or {})
    }  # fmt: skip


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_no_inventory_sets_in_group_vars_all_what_the_site_defaults(inventory: str) -> None:
    shadowed = group_all_keys(inventory) & set(SITE_DEFAULTS)
    assert not shadowed, f"{inventory}: {sorted(shadowed)} would be ignored; set them in group_vars/controller"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_no_inventory_sets_a_role_variable_the_site_wires(inventory: str) -> None:
    wired = set(inventory_vars(inventory)) & set(WIRED)
    assert not wired, f"{inventory}: {sorted(wired)} are handed to the roles from shipyard_* values"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_every_inventory_variable_is_a_role_option_or_a_site_value(inventory: str) -> None:
    # A site value (shipyard_*) the playbooks use is defaulted once for all, or set by every
    # inventory; one that only this inventory sets is its own helper, which playbooks and
    # roles must not use (another inventory would silently lack it).
    every = set.intersection(*(set(inventory_vars(i)) for i in INVENTORIES))
    used = "\n".join(p.read_text() for d in ("playbooks", "roles") for p in (ROOT / d).rglob("*.y*ml"))
    unknown, leaked = [], []
    for name in inventory_vars(inventory):
        if name in ROLE_OPTIONS or name in SITE_DEFAULTS or name in every:
            continue
        if not name.startswith("shipyard_"):
            unknown.append(name)
        elif re.search(rf"\b{name}\b", used):
            leaked.append(name)
    assert not unknown, f"{inventory} defines {unknown}: no role has them and the site does not use them"
    assert not leaked, f"only {inventory} defines {leaked}, but playbooks or roles use them"


def test_what_every_inventory_shares_lives_once() -> None:
    values = {i: inventory_vars(i) for i in INVENTORIES}
    same = [
        name for name in set.intersection(*(set(v) for v in values.values()))
        if len({json.dumps(v[name], sort_keys=True) for v in values.values()}) == 1
    ]  # fmt: skip
    assert not same, f"{same} have one value in every inventory: define them once in playbooks/group_vars/all"


def test_playbooks_and_roles_never_paper_over_a_missing_site_value() -> None:
    # `shipyard_x | default(...)` hides an inventory that lacks shipyard_x.
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for d in ("playbooks", "roles", "inventories")
        for p in (ROOT / d).rglob("*.y*ml")
        for m in re.finditer(r"\bshipyard_[a-z0-9_]+\s*\|\s*default\(", p.read_text())
    ]
    assert not found, found
