#!/usr/bin/env python3
"""`make bench-app`: throughput and p99 of a read and a write endpoint, metrics on vs off.

Runs the real server (gunicorn with gunicorn.conf.py) on loopback and drives it
with wrk at a fixed concurrency. Metrics-on and metrics-off servers are
measured in alternating rounds in the same run, so drift hits both alike. Exits
non-zero when metrics cost more than the allowed share of throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from appserver import start_app
from pgtmp import temporary_postgres

ROOT = Path(__file__).resolve().parent.parent
POST_LUA = """
wrk.method = "POST"
wrk.body = '{"name": "bench", "quantity": 1}'
wrk.headers["Content-Type"] = "application/json"
"""


def databases(kind: str, stack: ExitStack, workdir: Path) -> dict[str, str]:
    """One database per mode, so both servers start equal."""
    if kind == "sqlite":
        return {mode: f"sqlite:///{workdir}/{mode}.db" for mode in ("on", "off")}
    import psycopg  # noqa: PLC0415 - from the project venv

    server = stack.enter_context(temporary_postgres())
    with psycopg.connect(server, autocommit=True) as conn:
        for mode in ("on", "off"):
            conn.execute(f"CREATE DATABASE bench_{mode}")
    return {mode: server.rsplit("/", 1)[0] + f"/bench_{mode}" for mode in ("on", "off")}


def start(metrics: bool, workdir: Path, workers: int, threads: int, database: str) -> tuple[subprocess.Popen, str]:
    run = Path(tempfile.mkdtemp(prefix=f"{'on' if metrics else 'off'}-", dir=workdir))
    env = {
        "APP_WORKERS": str(workers),
        "APP_THREADS": str(threads),
        "APP_METRICS_ENABLED": str(metrics).lower(),
        "APP_LOG_LEVEL": "WARNING",  # the access log is INFO: measure the app, not the terminal
        "DATABASE_URL": database,
    }
    proc, url = start_app(run, env)
    for _ in range(200):
        try:
            request = urllib.request.Request(  # noqa: S310 - loopback
                url + "/api/items", data=b'{"name": "seed"}', headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=1):  # noqa: S310 - loopback
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the app did not start")


def wrk(url: str, seconds: int, connections: int, script: Path | None) -> tuple[float, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    value, unit = re.search(r"\s99%\s+([0-9.]+)(us|ms|s)", out).groups()
    p99_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if re.search(r"Non-2xx or 3xx responses", out):
        raise SystemExit(f"wrk saw error responses:\n{out}")
    return rps, p99_ms


COST_PROBE = """
import time
from shipyard_app import metrics
N = 20000
start = time.perf_counter()
for _ in range(N):
    metrics.IN_FLIGHT.inc()
    metrics.REQUESTS.labels("GET", "/api/items/<raw_id>", "200").inc()
    metrics.LATENCY.labels("GET", "/api/items/<raw_id>").observe(0.003)
    metrics.IN_FLIGHT.dec()
print((time.perf_counter() - start) / N * 1e6)
"""


def instrumentation_cost_us() -> float:
    """What the app's per-request metric updates cost alone, without the noise of a load test."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": tmp}
        out = subprocess.run(
            [sys.executable, "-c", COST_PROBE], cwd=ROOT / "app", env=env, capture_output=True, text=True, check=True
        )
    return float(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of one wrk round")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per mode")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-overhead", type=float, default=0.10, help="allowed throughput loss with metrics on")
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    subprocess.run([str(ROOT / "hack/ensure-packages.sh"), "wrk=wrk"], check=True)

    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        script = Path(tmp) / "post.lua"
        script.write_text(POST_LUA)
        urls = databases(args.database, stack, Path(tmp))
        servers = {
            mode: start(mode == "on", Path(tmp), args.workers, args.threads, urls[mode]) for mode in ("on", "off")
        }
        try:
            for round_no in range(args.rounds):
                # Alternate which mode goes first, so neither always gets the warmer machine.
                for mode in ("on", "off") if round_no % 2 == 0 else ("off", "on"):
                    url = servers[mode][1]
                    for name, target, lua in (("read", "/api/items/1", None), ("write", "/api/items", script)):
                        results.setdefault(name, {}).setdefault(mode, []).append(
                            wrk(url + target, args.seconds, args.connections, lua)
                        )
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=30)

    print(f"\nwrk -t2 -c{args.connections}, {args.rounds} x {args.seconds}s rounds per mode, "
          f"gunicorn {args.workers} workers x {args.threads} threads, {args.database}, access log off")  # fmt: skip
    print(f"{'endpoint':<22}{'metrics':<9}{'req/s':>10}{'p99 ms':>10}")
    summary: dict[str, dict] = {}
    failed = False
    for name, modes in results.items():
        label = "GET /api/items/1" if name == "read" else "POST /api/items"
        row = {}
        for mode in ("on", "off"):
            rps = statistics.median(r for r, _ in modes[mode])
            p99 = statistics.median(p for _, p in modes[mode])
            row[mode] = {"rps": rps, "p99_ms": p99}
            print(f"{label:<22}{mode:<9}{rps:>10.0f}{p99:>10.1f}")
        ratio = row["on"]["rps"] / row["off"]["rps"]
        row["ratio_on_off"] = ratio
        per_round = [on[0] / off[0] for on, off in zip(modes["on"], modes["off"], strict=True)]
        print(f"{'':<22}per-round ratios: {' '.join(f'{r:.3f}' for r in per_round)}")
        summary[name] = row
        verdict = "ok" if 1 - ratio <= args.max_overhead else f"FAIL (> {args.max_overhead:.0%})"
        print(f"{'':<22}throughput ratio on/off = {ratio:.3f}, overhead {1 - ratio:+.1%}: {verdict}")
        failed |= 1 - ratio > args.max_overhead
    cost = instrumentation_cost_us()
    print(f"instrumentation cost measured in-process (multiprocess mode): {cost:.1f} us per request")
    summary["instrumentation_us_per_request"] = cost
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
