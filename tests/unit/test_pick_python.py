"""hack/pick_python.py: the virtualenv goes on the quickest supported interpreter on PATH.

The candidates here are real interpreters reached through folders made for each test (a link to
this machine's base interpreter, a script that counts its runs and then runs it, one that fails,
one of a virtualenv), run through the real script. Only the timing of two interpreters, which
needs two builds on the machine, is handed in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "hack"))
import pick_python  # noqa: E402  (hack/ is not a package: imported from its path, set just above)

BASE = os.path.realpath(sys._base_executable)  # the interpreter this test's virtualenv is built on


def folder(tmp_path: Path, name: str, **scripts: str) -> Path:
    """A folder of executables, each a shell script or (a value starting with '/') a link."""
    made = tmp_path / name
    made.mkdir(parents=True)
    for exe, body in scripts.items():
        path = made / exe.replace("_", ".")
        if body.startswith("/"):
            path.symlink_to(body)
        else:
            path.write_text(f"#!/bin/sh\n{body}\n")
            path.chmod(0o755)
    return made


def pick(cache: Path, *folders: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": os.pathsep.join(map(str, folders))}
    return subprocess.run([BASE, str(ROOT / "hack/pick_python.py"), str(cache)], env=env, capture_output=True,
                          text=True, check=False, timeout=120)  # fmt: skip


def test_one_usable_interpreter_is_chosen_and_the_others_are_left_out(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    broken = folder(tmp_path, "broken", python3="exit 3")
    venv = folder(tmp_path, "venv/bin", python3=BASE)
    (tmp_path / "venv/pyvenv.cfg").write_text("home = /nowhere\n")
    counted = folder(tmp_path, "counted", python3_12=f'echo run >> {log}\nexec {BASE} "$@"')
    done = pick(tmp_path / "cache", broken, venv, counted)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == BASE
    assert log.read_text().count("run") == 1  # identified once, no probe: nothing to compare it with
    # Again: the choice comes from the cache, nothing runs.
    again = pick(tmp_path / "cache", broken, venv, counted)
    assert (again.returncode, again.stdout.strip(), log.read_text().count("run")) == (0, BASE, 1)


def test_a_new_interpreter_on_path_makes_a_new_choice(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    counted = folder(tmp_path, "counted", python3=f'echo run >> {log}\nexec {BASE} "$@"')
    assert pick(tmp_path / "cache", counted).stdout.strip() == BASE
    other = folder(tmp_path, "other", python3_11=BASE)
    assert pick(tmp_path / "cache", counted, other).stdout.strip() == BASE
    assert log.read_text().count("run") == 2  # the set changed: identified again


def test_no_usable_interpreter_fails_naming_each_and_why(tmp_path: Path) -> None:
    broken = folder(tmp_path, "broken", python3="exit 3")
    old = folder(tmp_path, "old", python3_11='echo \'{"executable": "/x", "version": [3, 9], "vv": "3.9.2", '
                                              '"ensurepip": true}\'')  # fmt: skip
    bare = folder(tmp_path, "bare", python3_12='echo \'{"executable": "/y", "version": [3, 12], "vv": "3.12.1", '
                                               '"ensurepip": false}\'')  # fmt: skip
    done = pick(tmp_path / "cache", broken, old, bare)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "no Python 3.11 to 3.13 on PATH that can create a virtualenv" in done.stderr
    assert f"{broken}/python3: does not run" in done.stderr
    assert f"{old}/python3.11: Python 3.9, not 3.11 to 3.13" in done.stderr
    assert f"{bare}/python3.12: cannot create a virtualenv (no ensurepip" in done.stderr
    assert "(set PYTHON=...)" in done.stderr
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    ("first", "second", "chosen"),
    [
        (0.300, 0.200, "/b"),  # a third quicker: it wins
        (0.200, 0.300, "/a"),  # the first on PATH is the quicker
        (0.300, 0.290, "/a"),  # 3 % is within the margin: the first on PATH stays
        (0.300, float("inf"), "/a"),  # a probe that failed loses
    ],
)
def test_the_quickest_wins_beyond_the_margin(first: float, second: float, chosen: str) -> None:
    usable = [{"executable": "/a"}, {"executable": "/b"}]
    assert pick_python.quickest(usable, {"/a": first, "/b": second})["executable"] == chosen


def test_a_probe_reports_every_candidate_and_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    two = [
        {"executable": "/opt/slow/python3.11", "vv": "3.11.7 (main)"},
        {"executable": "/usr/bin/python3.11", "vv": "3.11.2 (main)"},
    ]
    monkeypatch.setattr(pick_python, "identify", lambda candidates: (two, []))
    timed = {"/opt/slow/python3.11": 0.067, "/usr/bin/python3.11": 0.038}
    assert pick_python.choose(tmp_path, "", timed.__getitem__) == "/usr/bin/python3.11"
    report = capsys.readouterr().err.splitlines()
    assert report == [
        "[setup]   /opt/slow/python3.11 (3.11.7): 0.067 s CPU on the probe",
        "[setup] * /usr/bin/python3.11 (3.11.2): 0.038 s CPU on the probe",
        "[setup] the virtualenv goes on the quickest, /usr/bin/python3.11 (PYTHON=... chooses another)",
    ]
    kept = list((tmp_path / "python").iterdir())
    assert [p.read_text() for p in kept] == ["/usr/bin/python3.11\n"]
    # Kept: a second choice probes nothing, even when the times would now say otherwise.
    assert pick_python.choose(tmp_path, "", {}.__getitem__) == "/usr/bin/python3.11"


def test_the_project_virtualenv_is_built_on_the_chosen_interpreter() -> None:
    """What setup.sh did for this checkout, checked against the choice the script makes now."""
    if os.environ.get("PYTHON"):
        pytest.skip("PYTHON is set: setup.sh took it without a choice")
    cache = Path(os.path.realpath(ROOT / ".venv")).parents[1]  # setup.sh links .venv to <cache>/venv/<key>
    done = subprocess.run([BASE, str(ROOT / "hack/pick_python.py"), str(cache)], capture_output=True, text=True,
                          check=False, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert os.path.realpath(done.stdout.strip()) == BASE
