"""Fixtures for the tests on the local cluster's real node, after `make up`
(helpers and what runs where: tests/realpods.py)."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from realpods import APP_NAMESPACE, KUBECONFIG, PROBE_IMAGE, ROOT, Probes, kubectl, kubectl_json, load_image

# The single-tenant site as users ran it before tenants came (test_w_upgrade.py converges it).
PREVIOUS = "2f74145"


@pytest.fixture(scope="session")
def cluster() -> Path:
    if not KUBECONFIG.is_file():
        pytest.fail(f"{KUBECONFIG} is missing: run 'make up' first (these tests need the local cluster)")
    kubectl("get", "--raw", "/readyz")
    return KUBECONFIG


@pytest.fixture(scope="session")
def app_url(cluster: Path) -> str:
    return f"http://127.0.0.1:{os.environ.get('SHIPYARD_APP_PORT', '8080')}"


@pytest.fixture(scope="session")
def api_token(cluster: Path) -> str:
    secret = kubectl_json("-n", APP_NAMESPACE, "get", "secret", "shipyard-app-secrets")
    return base64.b64decode(secret["data"]["APP_API_TOKEN"]).decode()


@pytest.fixture(scope="session")
def probe_image(cluster: Path) -> str:
    """A small image with python3 in the node's containerd, loaded as `kind load` does."""
    load_image(PROBE_IMAGE)
    return PROBE_IMAGE


@pytest.fixture
def probes(probe_image: str) -> Iterator[Probes]:
    started = Probes(probe_image)
    yield started
    started.remove()


def check_out_previous(tree: Path) -> Path:
    """The previous version as a git worktree, with its own `make setup`."""
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), PREVIOUS], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    setup = subprocess.run(["make", "--no-print-directory", "setup"], cwd=tree, capture_output=True, text=True,
                           check=False)  # fmt: skip
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return tree


@pytest.fixture(scope="session", autouse=True)
def previous_checkout(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future]:
    """Started with the session when the upgrade test is to run, in a thread: on a fresh machine the
    previous version's `make setup` builds a virtualenv of its own (its pins differ), about 35 s of
    pip that then overlaps the first tests' waits instead of coming before the upgrade."""
    if not any(item.path.name == "test_w_upgrade.py" for item in request.session.items):
        yield Future()
        return
    tree = tmp_path_factory.mktemp("previous") / "shipyard"
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = pool.submit(check_out_previous, tree)
        yield started
        started.exception()  # wait for it
    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False, capture_output=True)


@pytest.fixture(scope="module")
def previous(previous_checkout: Future) -> Path:
    return previous_checkout.result(timeout=900)
