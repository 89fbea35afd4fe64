"""shipyard.platform.code_cache: a rerun runs the code that the run before compiled, and nothing else changes.

Each case runs real playbooks with the repository's ansible.cfg (which enables the
callback), its folder pointed at the test's own. What a run prints is compared with a
run without the callback; that the second run really reads the folder is shown by
planting other code in one of its files.
"""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import types
from pathlib import Path

from localplay import ROOT, run_local_playbook

ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
WITHOUT = "shipyard.platform.preload, shipyard.platform.private_tmp"

# Templates and conditions of several kinds: filters, a loop, a backslash inside an
# expression (task arguments escape it, a template file does not), the same text as a
# task argument and in a template file, and a condition.
PLAYBOOK = r"""
- name: Probe
  hosts: localhost
  gather_facts: false
  vars:
    numbers: "{{ range(4) | list }}"
    joined: "{{ numbers | map('string') | join(',') }}"
    escaped: "{{ 'a\\1b' | regex_replace('\\\\1', '-') }}"
    file: "{{ lookup('ansible.builtin.template', 'same.j2') }}"
    inline: "{{ 'a\\1b' }}"
    looped: "{% for n in numbers if n is even %}{{ n }}{% endfor %}"
  tasks:
    - name: Render what the cache must not change
      ansible.builtin.copy:
        content: >-
          {{ {'joined': joined, 'escaped': escaped, 'file': file, 'inline': inline, 'looped': looped} | to_json }}
        dest: "{{ out }}"
        mode: "0600"
      when: numbers | length > 3 and numbers[0] == 0
"""
SAME = "{{ 'a\\1b' }}"


def run(
    tmp_path: Path, name: str, folder: Path | str | None, playbook: str = PLAYBOOK, cwd: Path = ROOT
) -> subprocess.CompletedProcess:
    """The playbook with the cache in folder ("": the option set empty), or without the callback (None)."""
    (tmp_path / "probe.yml").write_text(playbook)
    (tmp_path / "same.j2").write_text(SAME)
    if folder is None:
        env = {**ENV, "ANSIBLE_CALLBACKS_ENABLED": WITHOUT}
    else:
        env = {**ENV, "SHIPYARD_CODE_CACHE": str(folder)}
    return run_local_playbook(
        tmp_path / "probe.yml",
        env,
        extra_args=("-vvv", "-e", f"out={tmp_path / name}"),
        cwd=cwd,
        must_succeed=False,
    )


def rendered(tmp_path: Path, name: str, folder: Path | None) -> dict:
    result = run(tmp_path, name, folder)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((tmp_path / name).read_text())


def entries(folder: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_a_rerun_reads_the_code_it_kept_and_renders_the_same(tmp_path):
    folder = tmp_path / "cache"
    without = rendered(tmp_path, "without.json", None)
    assert without == {"joined": "0,1,2,3", "escaped": "a-b", "file": "a\x01b", "inline": "a\\1b", "looped": "02"}

    first = rendered(tmp_path, "first.json", folder)
    kept = entries(folder)
    # the task's templates, its condition, the lazy vars and the template file, at least
    assert len(kept) >= 6, sorted(kept)
    assert folder.stat().st_mode & 0o777 == 0o700
    second = rendered(tmp_path, "second.json", folder)
    assert first == second == without
    assert entries(folder) == kept, "the rerun compiled again what was kept"


def test_the_kept_code_is_what_runs(tmp_path):
    # Compile the playbook, and the same playbook with one literal changed into
    # another folder: one file differs. Put the other's code under this one's name.
    folder, other = tmp_path / "cache", tmp_path / "other"
    rendered(tmp_path, "first.json", folder)
    changed = PLAYBOOK.replace("'-'", "'planted'")
    assert run(tmp_path, "other.json", other, changed).returncode == 0
    ours, theirs = set(entries(folder)) - set(entries(other)), set(entries(other)) - set(entries(folder))
    assert len(ours) == len(theirs) == 1, (ours, theirs)
    (folder / ours.pop()).write_bytes((other / theirs.pop()).read_bytes())
    # The original playbook now renders what only the kept code says.
    assert rendered(tmp_path, "planted.json", folder)["escaped"] == "aplantedb"


def test_a_folder_others_can_write_is_not_used(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    folder.chmod(0o770)
    result = run(tmp_path, "out.json", folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "shipyard.platform.code_cache: off: others can write to" in result.stdout
    assert not list(folder.iterdir())
    assert json.loads((tmp_path / "out.json").read_text())["escaped"] == "a-b"


def test_an_empty_folder_turns_it_off(tmp_path):
    # An empty value means off, and above all not the working directory.
    result = run(tmp_path, "out.json", "", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "shipyard.platform.code_cache: off, its folder is empty" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "probe.yml", "same.j2"]


def test_a_template_that_does_not_compile_fails_as_without_the_cache(tmp_path):
    broken = PLAYBOOK.replace("numbers | length > 3", "numbers | length >")
    messages = []
    for folder in (None, tmp_path / "cache", tmp_path / "cache"):
        result = run(tmp_path, "out.json", folder, broken)
        assert result.returncode == 2
        messages.append([line for line in result.stdout.splitlines() if "Syntax error" in line][:1])
    assert messages[0] and messages[0] == messages[1] == messages[2]


def test_the_code_mitogen_compiles_to_find_imports_is_kept_and_is_what_python_compiles(tmp_path):
    # The playbook's copy task runs a module through Mitogen (the repository's strategy): its multiplexer
    # compiles the module's imports, each only to read its import statements, and minifies its own core.
    folder = tmp_path / "cache"
    result = run(tmp_path, "out.json", folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the code Mitogen compiles to find imports, and its minified core, kept in" in result.stdout
    kept = [marshal.loads(p.read_bytes()) for p in folder.iterdir()]  # noqa: S302 - the test's own folder
    files = [c for c in kept if isinstance(c, types.CodeType) and Path(c.co_filename).is_file()]
    assert len(files) >= 20, len(files)  # ansible's module_utils among them
    assert any(c.co_filename.endswith("/ansible/module_utils/basic.py") for c in files)
    for code in files:  # the code Python compiles from the file, as Mitogen's own call would
        assert code == compile(Path(code.co_filename).read_bytes(), code.co_filename, "exec", 0, True), code
    core = [s for s in kept if isinstance(s, str)]
    assert len(core) == 1 and "class Broker" in core[0]


def test_without_mitogen_only_templates_are_kept(tmp_path):
    folder = tmp_path / "cache"
    (tmp_path / "probe.yml").write_text(PLAYBOOK)
    (tmp_path / "same.j2").write_text(SAME)
    result = run_local_playbook(
        tmp_path / "probe.yml",
        {**ENV, "SHIPYARD_CODE_CACHE": str(folder), "ANSIBLE_STRATEGY": "linear"},
        extra_args=("-vvv", "-e", f"out={tmp_path / 'out.json'}"),
    )
    assert "compiled templates kept in" in result.stdout
    assert "the code Mitogen compiles" not in result.stdout
    kept = [marshal.loads(p.read_bytes()) for p in folder.iterdir()]  # noqa: S302 - the test's own folder
    assert kept and not [c for c in kept if isinstance(c, str) or Path(getattr(c, "co_filename", "")).is_file()]
