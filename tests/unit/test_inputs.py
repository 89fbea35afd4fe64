"""The site checks every role's inputs before its first change (playbooks/inputs.yml).

Each role checks its own inputs at its start, but the site runs the roles one
after the other: without these checks up front, a bad value for hardening was
refused only after the image was built and the app, logging and monitoring were
applied, and a bad kind_cluster value only after the engine and the tools were
installed on the cluster hosts. These tests hold the wiring: every role a site
play runs, on the cluster or on its hosts, has an `inputs` entry point, playbooks/inputs.yml runs each of them, and the
site and the render import it before anything else they do. The behaviour
itself is tested where it happens: tests/unit/test_bad_input.py (render writes
no file), tests/unit/test_bootstrap_inputs.py (no cluster host is reached) and
the site scenario's verify (a refused run changes nothing).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
ROLE = re.compile(r"shipyard\.platform\.([a-z_0-9]+)")
# A play's role: `role:` in its roles, `name:` of import_role or include_role.
ROLE_OF_PLAY = re.compile(r"^\s*-?\s*(?:role|name): shipyard\.platform\.([a-z_0-9]+)\s*$", re.MULTILINE)
# Only the shared `common` role's helpers (the cluster check, the lock, the StatefulSet guard).
NOT_CHECKED = {"common"}


def load(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text())


def roles_with_an_inputs_entry() -> set[str]:
    return {
        role.name
        for role in (ROOT / "roles").iterdir()
        if "inputs" in load(role / "meta/argument_specs.yml")["argument_specs"]
    }


def checked_by_inputs_yml() -> set[str]:
    roles = set()
    for play in load(PLAYBOOKS / "inputs.yml"):
        for task in play["tasks"]:
            if "ansible.builtin.set_fact" in task:
                continue
            include = task["ansible.builtin.import_role"]
            assert include["tasks_from"] == "inputs", task["name"]
            roles.add(ROLE.fullmatch(include["name"])[1])
    return roles


def test_inputs_yml_runs_every_roles_inputs_entry_point() -> None:
    assert checked_by_inputs_yml() == roles_with_an_inputs_entry()
    for role in roles_with_an_inputs_entry():
        assert (ROOT / "roles" / role / "tasks/inputs.yml").is_file(), role


def test_every_role_the_site_applies_is_checked_up_front() -> None:
    site = [entry["ansible.builtin.import_playbook"] for entry in load(PLAYBOOKS / "site.yml")]
    used = set()
    for name in site:
        if name in ("run_checks.yml", "inputs.yml"):
            continue
        used |= set(ROLE_OF_PLAY.findall((PLAYBOOKS / name).read_text()))
    assert used - NOT_CHECKED, "the site applies no role"
    assert used - NOT_CHECKED <= checked_by_inputs_yml(), (
        f"not checked up front: {used - NOT_CHECKED - checked_by_inputs_yml()}"
    )


def test_the_site_and_the_render_check_the_inputs_before_anything_else() -> None:
    site = [entry["ansible.builtin.import_playbook"] for entry in load(PLAYBOOKS / "site.yml")]
    assert site[:2] == ["run_checks.yml", "inputs.yml"]
    render = load(PLAYBOOKS / "render.yml")
    assert render[0].get("ansible.builtin.import_playbook") == "inputs.yml"


def test_the_checks_change_nothing_whatever_the_tags() -> None:
    for play in load(PLAYBOOKS / "inputs.yml"):
        assert play["tags"] == ["always"], play["name"]
        assert play["any_errors_fatal"] is True, play["name"]
        *checks, last = play["tasks"]
        for task in checks:
            # Imported: the play's tag reaches every task (an include would need `apply`).
            assert "ansible.builtin.import_role" in task, task["name"]
        # Only after every check of the play passed, so only then do the roles skip theirs.
        assert last["ansible.builtin.set_fact"] == {"__site_inputs_checked": True}, play["name"]


def test_a_role_skips_its_own_check_only_after_the_site_checked_it() -> None:
    wiring = yaml.safe_load((PLAYBOOKS / "vars/wiring.yml").read_text())
    for role in roles_with_an_inputs_entry():
        assert wiring[f"{role}_check_inputs"] == "{{ not (__site_inputs_checked | default(false)) }}", role
        defaults = yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text())
        assert defaults[f"{role}_check_inputs"] is True, role
        preflight = load(ROOT / "roles" / role / "tasks/preflight.yml")[0]
        assert preflight == {
            "name": "Preflight | Check the inputs",
            "ansible.builtin.import_tasks": "inputs.yml",
            "when": f"{role}_check_inputs | bool",
        }, role
        render = ROOT / "roles" / role / "tasks/render.yml"
        if render.is_file():  # the render checks them at its start likewise
            check = next(task for task in load(render) if task.get("ansible.builtin.import_tasks") == "inputs.yml")
            assert check["when"] == f"{role}_check_inputs | bool", role
