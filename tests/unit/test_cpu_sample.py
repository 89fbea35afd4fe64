"""hack/cpu_sample.py counts the CPU a process used while it recorded, under the process's name."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOL = [sys.executable, str(ROOT / "hack/cpu_sample.py")]
# Burns argv[1] seconds of CPU, then idles a second so that a sample sees its end.
BURN = """import sys, time
t = time.process_time()
while time.process_time() - t < float(sys.argv[1]):
    pass
time.sleep(1)
"""
# Burns argv[1] seconds of CPU, writes the file argv[2], waits until the file argv[3] is there, burns
# argv[4] seconds more, then idles a second: its CPU before and after a moment the test chooses.
BURN_IN_TWO = """import os, sys, time
t = time.process_time()
while time.process_time() - t < float(sys.argv[1]):
    pass
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
t = time.process_time()
while time.process_time() - t < float(sys.argv[4]):
    pass
time.sleep(1)
"""


def seconds_of(lines: list[str], name: str) -> float:
    return sum(float(line.split()[0]) for line in lines if line.endswith(f"host: {name}"))


def test_a_process_is_counted_from_the_first_sample_and_one_started_later_from_its_start(tmp_path: Path) -> None:
    before = tmp_path / "before"  # runs before the recording starts: what it used by then is not counted
    after = tmp_path / "after"
    for link in (before, after):
        link.symlink_to(sys.executable)
    burnt, go, out = tmp_path / "burnt", tmp_path / "go", tmp_path / "cpu.json"
    # 1.2 s of CPU, then 1.3 s more once the recorder has taken its first sample (it writes out then):
    # timed by the process's own CPU clock, not by the test's sleep, which on a loaded machine gave it less.
    early = subprocess.Popen([str(before), "-c", BURN_IN_TWO, "1.2", str(burnt), str(go), "1.3"])
    try:
        _wait_for(burnt, early)
        recorder = subprocess.Popen([*TOOL, "record", str(out), "--every", "0.3"])
        try:
            _wait_for(out, recorder)
            go.touch()
            subprocess.run([str(after), "-c", BURN, "0.8"], check=True)
            early.wait(timeout=30)
        finally:
            recorder.send_signal(signal.SIGTERM)
            assert recorder.wait(timeout=30) == 0
    finally:
        go.touch()  # a test that failed before does not leave it waiting
        early.wait(timeout=30)
    report = subprocess.run([*TOOL, "report", str(out), "--top", "50"], capture_output=True, text=True, check=True)
    lines = report.stdout.splitlines()
    assert 0.6 <= seconds_of(lines, "after") <= 1.0, report.stdout
    # It had burnt about 1.2 s before the recording began, of its 2.5 s.
    assert 0.7 <= seconds_of(lines, "before") <= 1.9, report.stdout


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    """Until path is there; fails if the process that is to write it ends first or takes over 60 s."""
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, f"{process.args[0]} ended without writing {path.name}"
        assert time.monotonic() < deadline, f"no {path.name} after 60 s"
        time.sleep(0.05)
