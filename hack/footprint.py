#!/usr/bin/env python3
"""Sum the resource requests of rendered manifests (make render): per folder and in all.

Replicas count; a DaemonSet counts once per node. Usage: footprint.py DIR [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def cpu_millis(value: str | int | float) -> int:
    text = str(value)
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def memory_bytes(value: str | int) -> int:
    text = str(value)
    for unit in sorted(UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * UNITS[unit])
    return int(text)


def footprint(directory: Path) -> dict[str, dict[str, int]]:
    """{folder: {"cpu_m": ..., "memory_mi": ..., "pods": ...}} plus "total"."""
    sums: dict[str, dict[str, int]] = {}
    for path in sorted(directory.rglob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") not in {"Deployment", "StatefulSet", "DaemonSet"}:
                continue
            replicas = 1 if doc["kind"] == "DaemonSet" else int(doc["spec"].get("replicas", 1))
            spec = doc["spec"]["template"]["spec"]
            folder = path.parent.relative_to(directory).as_posix()
            part = sums.setdefault(folder, {"cpu_m": 0, "memory_mi": 0, "pods": 0})
            part["pods"] += replicas
            for container in spec.get("containers", []):
                requests = container.get("resources", {}).get("requests", {})
                part["cpu_m"] += replicas * cpu_millis(requests.get("cpu", 0))
                part["memory_mi"] += replicas * memory_bytes(requests.get("memory", 0)) // 2**20
    sums["total"] = {k: sum(p[k] for p in list(sums.values())) for k in ("cpu_m", "memory_mi", "pods")}
    return sums


def main() -> int:
    sums = footprint(Path(sys.argv[1]))
    if "--json" in sys.argv:
        print(json.dumps(sums, indent=2))
        return 0
    for name, part in sums.items():
        pods, cpu, memory = part["pods"], part["cpu_m"], part["memory_mi"]
        print(f"  {name:<12} {pods:>3} pods  {cpu:>6}m CPU  {memory:>6}Mi memory requested")
    return 0


if __name__ == "__main__":
    sys.exit(main())
