"""Print the interpreter that the project's virtualenv is to be built on (setup.sh).

Every python3.11, python3.12, python3.13 and python3 on PATH is a candidate. Those
of a supported version (3.11 to 3.13) that can create a virtualenv (ensurepip) are
timed on the same small pure-Python workload, CPU time of the process, the best of
three, and the quickest wins; the first on PATH stays unless another is more than
5 % quicker. Builds of one version differ by about a third: pyenv's default build
(configured without profile-guided optimization, with a shared libpython) ran
`ansible-playbook --list-tasks` on the site with 41 % more CPU time than Debian's
python3.11 on this machine (1.33 against 0.94 s). The choice is cached per set of
candidates (each one's path, the file it is, its size and mtime: nothing runs), so
only the first setup, or the first after an interpreter came, went or was upgraded,
pays the probe (about a second).

Usage: pick_python.py CACHE_DIR. Exit 1, with the reasons on stderr, when no
candidate will do. The report of a probe goes to stderr; the path to stdout.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

NAMES = ("python3.11", "python3.12", "python3.13", "python3")
SUPPORTED = ((3, 11), (3, 13))
MARGIN = 0.05  # another candidate must be this much quicker than the first on PATH

# What each candidate reports about itself: run by the candidate, so it must parse on any python3.
IDENTIFY = """
import importlib.util, json, os, sys
print(json.dumps({"executable": os.path.realpath(sys.executable), "version": list(sys.version_info[:2]),
                  "vv": sys.version, "ensurepip": importlib.util.find_spec("ensurepip") is not None}))
"""
# The workload: dicts, strings, JSON, regular expressions and calls, as Ansible's templating and
# parsing use them. Best of three of about 0.1 to 0.2 s each.
PROBE = """
import json, re, time
def work():
    seen = {}
    for i in range(20000):
        key = "k%d" % (i % 500)
        seen[key] = seen.get(key, 0) + len(str(i))
    text = json.dumps(seen, sort_keys=True)
    return len(re.findall(r"k(\\d+)", text)) + len(json.loads(text))
best = None
for _ in range(3):
    start = time.process_time()
    for _ in range(15):
        work()
    took = time.process_time() - start
    best = took if best is None else min(best, took)
print(best)
"""


def on_path(path: str) -> list[str]:
    """Every executable of the candidate names on PATH, in PATH's order (as `which -a`). A
    virtualenv's interpreters are left out: a virtualenv is built on a base interpreter."""
    found = []
    for folder in path.split(os.pathsep):
        if os.path.isfile(os.path.join(folder or ".", os.pardir, "pyvenv.cfg")):
            continue
        for name in NAMES:
            exe = os.path.join(folder or ".", name)
            if os.path.isfile(exe) and os.access(exe, os.X_OK) and exe not in found:
                found.append(exe)
    return found


def fingerprint(candidates: list[str]) -> str:
    """The key of a choice, without running anything: each candidate, the file it is, its size and mtime."""
    seen = []
    for exe in candidates:
        real = os.path.realpath(exe)
        stat = os.stat(real)
        seen.append([exe, real, stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(seen).encode()).hexdigest()[:16]


def run(exe: str, code: str) -> str | None:
    try:
        done = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def identify(candidates: list[str]) -> tuple[list[dict], list[str]]:
    """The usable interpreters, one per real executable in PATH's order, and why the others are not."""
    usable: dict[str, dict] = {}
    refused = []
    ran = set()
    for exe in candidates:
        real = os.path.realpath(exe)
        if real in ran:  # /bin/python3 and /usr/bin/python3.11 are one file
            continue
        ran.add(real)
        out = run(exe, IDENTIFY)
        if out is None:
            refused.append(f"{exe}: does not run")
            continue
        info = json.loads(out)
        low, high = SUPPORTED
        if not low <= tuple(info["version"]) <= high:
            refused.append(f"{exe}: Python {'.'.join(map(str, info['version']))}, not 3.11 to 3.13")
        elif not info["ensurepip"]:
            refused.append(f"{exe}: cannot create a virtualenv (no ensurepip: Debian's python3-venv)")
        else:
            usable.setdefault(info["executable"], info)
    return list(usable.values()), refused


def quickest(usable: list[dict], timed: dict[str, float]) -> dict:
    """The first on PATH, unless another took more than MARGIN less CPU time."""
    first = usable[0]
    best = min(usable, key=lambda info: timed[info["executable"]])
    return best if timed[best["executable"]] < (1 - MARGIN) * timed[first["executable"]] else first


def choose(cache: Path, path: str, time_one: Callable[[str], float] | None = None) -> str:
    candidates = on_path(path)
    kept = cache / "python" / fingerprint(candidates)
    before = kept.read_text().strip() if kept.is_file() else ""
    if before and os.access(before, os.X_OK):
        return before
    usable, refused = identify(candidates)
    if not usable:
        raise SystemExit("pick_python: no Python 3.11 to 3.13 on PATH that can create a virtualenv"
                         + "".join(f"\n  {why}" for why in refused) + "\n(set PYTHON=...)")  # fmt: skip
    if len(usable) == 1:
        chosen = usable[0]
    else:
        time_one = time_one or (lambda exe: float(run(exe, PROBE) or "inf"))
        timed = {info["executable"]: time_one(info["executable"]) for info in usable}
        chosen = quickest(usable, timed)
        for info in usable:
            mark = "*" if info is chosen else " "
            print(f"[setup] {mark} {info['executable']} ({info['vv'].split()[0]}): "
                  f"{timed[info['executable']]:.3f} s CPU on the probe", file=sys.stderr)  # fmt: skip
        print(f"[setup] the virtualenv goes on the quickest, {chosen['executable']} (PYTHON=... chooses another)",
              file=sys.stderr)  # fmt: skip
    kept.parent.mkdir(parents=True, exist_ok=True)
    part = kept.with_name(f"{kept.name}.{os.getpid()}")  # whole or not at all, for a setup beside
    part.write_text(chosen["executable"] + "\n")
    os.replace(part, kept)
    return chosen["executable"]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.split("\n\n")[-1])
    print(choose(Path(sys.argv[1]), os.environ.get("PATH", "")))
