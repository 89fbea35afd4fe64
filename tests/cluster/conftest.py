"""Fixtures for the tests on the local cluster's real node, after `make up`
(helpers and what runs where: tests/realpods.py)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from realpods import APP_NAMESPACE, KUBECONFIG, PROBE_IMAGE, Probes, kubectl, kubectl_json, load_image


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
