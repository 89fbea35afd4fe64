"""Fixtures for the monitoring stack's tests: rendered files and the real tools."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def render(out: Path, extra_vars: dict | None = None, inventory: str = "sandbox") -> Path:
    """Render an inventory's manifests and files with the render playbook; return monitoring's folder."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    cmd = [
        "ansible-playbook",
        "-i",
        f"inventories/{inventory}",
        "playbooks/render.yml",
        "-e",
        f"shipyard_render_dir={out}",
    ]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return out / "monitoring"


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("render"))


@pytest.fixture(scope="session")
def tools() -> dict[str, Path]:
    """The pinned Prometheus and Alertmanager binaries, built once into the cache (hack/tools/build.sh)."""
    run = subprocess.run(
        [str(ROOT / "hack/tools/build.sh"), "prometheus", "alertmanager"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    prometheus, alertmanager = (Path(line) for line in run.stdout.split())
    return {
        "prometheus": prometheus / "prometheus",
        "promtool": prometheus / "promtool",
        "alertmanager": alertmanager / "alertmanager",
        "amtool": alertmanager / "amtool",
    }


def wait_until(
    check: Callable[[], object], timeout: float, what: str | Callable[[], str], interval: float = 0.5
) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as error:  # not listening yet
            last = error
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what() if callable(what) else what}; last: {last!r}")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback URL built by the test)
        return json.load(response)
