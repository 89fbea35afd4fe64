"""shipyard.platform.parsed_copy: a parsed file's kept data is copied as deepcopy copies it, its scalars shared.

Each case loads real files through ansible-core's DataLoader, as a role's include loads
them: every YAML file of the repository's roles, one with an alias and one with a recursive alias. The copy must
equal deepcopy's, node for node: the same values, types and tags; no container of the
kept data in it; one object reached twice still one object; a change to a copy never
reaching the next load. A real run with the callback says it is on.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from ansible.module_utils._internal._datatag import AnsibleTagHelper
from ansible.parsing.dataloader import DataLoader
from localplay import PLAIN_CALLBACKS, ROOT, VERBOSE_ENV, collection_loader, run_local_playbook

ROLE_FILES = sorted(p for part in ("tasks", "defaults", "vars", "meta") for p in ROOT.glob(f"roles/*/{part}/*.yml"))


def nodes(value, path="$"):
    """Every node of parsed data with its path, depth first."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from nodes(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from nodes(child, f"{path}[{index}]")


def described(value):
    return [(path, type(node), AnsibleTagHelper.tags(node)) for path, node in nodes(value)]


@pytest.fixture
def copy_parsed(request):
    request.getfixturevalue(collection_loader.__name__)
    # Importable only once the fixture has installed Ansible's collection loader.
    from ansible_collections.shipyard.platform.plugins.callback import parsed_copy  # noqa: PLC0415

    return parsed_copy.copy_parsed


def test_every_role_file_copies_as_deepcopy_copies_it_with_its_scalars_shared(copy_parsed):
    assert len(ROLE_FILES) > 50, "the roles' files are found"
    loader = DataLoader()
    for path in ROLE_FILES:
        kept = loader.load_from_file(str(path), unsafe=True, trusted_as_template=True)
        ours, theirs = copy_parsed(kept), copy.deepcopy(kept)
        assert ours == theirs, path
        assert described(ours) == described(theirs), path
        kept_containers = {id(node) for _, node in nodes(kept) if isinstance(node, (dict, list))}
        assert not [p for p, node in nodes(ours) if isinstance(node, (dict, list)) and id(node) in kept_containers]
        assert all(a is b for (_, a), (_, b) in zip(nodes(ours), nodes(kept), strict=False) if isinstance(a, str)), path


def test_an_alias_stays_one_object_and_a_changed_copy_never_reaches_the_next_load(copy_parsed, tmp_path: Path):
    source = tmp_path / "alias.yml"
    source.write_text("shared: &ports [80, 443]\nagain: *ports\nname: web\n")
    loader = DataLoader()
    first = copy_parsed(loader.load_from_file(str(source), unsafe=True))
    assert first["shared"] is first["again"]
    first["shared"].append(8080)
    first["name"] = "changed"
    second = copy_parsed(loader.load_from_file(str(source), unsafe=True))
    assert second == {"shared": [80, 443], "again": [80, 443], "name": "web"}


def test_a_recursive_alias_comes_back_to_its_own_copy_as_deepcopy_has_it(copy_parsed, tmp_path: Path):
    source = tmp_path / "recursive.yml"
    source.write_text("ports: &ports\n  - 80\n  - *ports\n")
    kept = DataLoader().load_from_file(str(source), unsafe=True)
    ours = copy_parsed(kept)
    assert ours["ports"][1] is ours["ports"]
    assert ours["ports"] is not kept["ports"]
    assert type(ours["ports"]) is type(kept["ports"])
    assert AnsibleTagHelper.tags(ours["ports"]) == AnsibleTagHelper.tags(kept["ports"])


def test_a_run_with_the_callback_says_it_is_on(tmp_path: Path):
    playbook = tmp_path / "one.yml"
    playbook.write_text(
        "- name: One\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Say\n      ansible.builtin.debug:\n        msg: done\n"
    )
    env = {
        **VERBOSE_ENV,
        "ANSIBLE_VERBOSITY": "3",
        "ANSIBLE_CALLBACKS_ENABLED": f"{PLAIN_CALLBACKS},shipyard.platform.parsed_copy",
    }
    run = run_local_playbook(playbook, env)
    assert "shipyard.platform.parsed_copy: parsed files are copied with their values shared" in run.stdout
