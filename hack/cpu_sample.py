#!/usr/bin/env python3
"""Where a run's CPU goes, by process name and by where the process runs.

`make test` reports each job's own CPU (its process tree, from os.wait4), but
not what runs outside those trees: the local cluster's node and pods, the
scenarios' control planes, the Docker engine. This samples every process's
CPU time from /proc every few seconds while it runs:

    python3 hack/cpu_sample.py record /tmp/cpu.json &   # until stopped
    make test; kill %1
    python3 hack/cpu_sample.py report /tmp/cpu.json

A process is counted from its first sample to its last one: a process that
lives less than the interval can be missed, and the last interval of each is
(so the figures are a lower bound, close for daemons). Where: the Docker
container's name, "<cgroup> pods" for a real node's pods (the local cluster's
kubelet puts them in cgroups of their own, beside Docker's), or "host".
Standard library only; Linux.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def containers() -> dict[str, str]:
    try:
        out = subprocess.run(
            ["docker", "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def where(pid: str, names: dict[str, str]) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpuacct" in controllers.split(",") or controllers == "":
            parts = path.strip("/").split("/")
            if parts[0] == "docker" and len(parts) > 1:
                return names.get(parts[1], parts[1][:12])
            if any(part.startswith("kubepods") for part in parts):
                # The local cluster's kubelet puts its pods under /shipyard-<cluster>/kubepods.
                return "pods" if parts[0].startswith("kubepods") else f"{parts[0]} pods"
            if controllers:
                return "host"
    return "host"


def sample(names: dict[str, str]) -> dict[str, tuple[str, str, float]]:
    """pid:start -> (where, name, CPU seconds so far)."""
    seen = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICK
            seen[f"{pid}:{fields[19]}"] = (where(pid, names), name, cpu)
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return seen


def record(out: Path, every: float) -> None:
    initial: dict[str, float] | None = None  # what the processes running at the start had used before
    last: dict[str, tuple] = {}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    started = time.time()
    while not stop:
        now = sample(containers())
        if initial is None:
            initial = {key: cpu for key, (_, _, cpu) in now.items()}
        last.update(now)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps({"initial": initial, "last": last, "seconds": time.time() - started}))
        tmp.replace(out)
        deadline = time.monotonic() + every
        while not stop and time.monotonic() < deadline:
            time.sleep(0.2)


def report(data: dict, top: int) -> list[str]:
    by_process: collections.Counter = collections.Counter()
    by_place: collections.Counter = collections.Counter()
    for key, (place, name, cpu) in data["last"].items():
        # A process already running at the first sample counts from then, one started later from its start.
        used = cpu - data["initial"].get(key, 0.0)
        by_process[(place, name)] += used
        by_place[place] += used
    lines = [f"{data['seconds']:.0f} s sampled, {sum(by_place.values()):.0f} CPU seconds seen"]
    lines += [f"{cpu:8.1f}  {place}" for place, cpu in by_place.most_common(top) if cpu >= 0.5]
    lines += [""] + [f"{cpu:8.1f}  {place}: {name}" for (place, name), cpu in by_process.most_common(top)]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="sample until stopped (SIGTERM or Ctrl-C)")
    rec.add_argument("out", type=Path)
    rec.add_argument("--every", type=float, default=5.0, help="seconds between samples (default 5)")
    rep = sub.add_parser("report", help="CPU seconds by where and by process name")
    rep.add_argument("file", type=Path)
    rep.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    if args.command == "record":
        record(args.out, args.every)
        return 0
    print("\n".join(report(json.loads(args.file.read_text()), args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
