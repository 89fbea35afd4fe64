"""The built image, run the way Kubernetes will run it: read-only root, non-root, no capabilities."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from appserver import free_port  # hack/ is put on sys.path by conftest

from .conftest import APP_DIR, wait_http

pytestmark = pytest.mark.docker
BASE_IMAGE = os.environ.get("SHIPYARD_APP_BASE_IMAGE", "localhost/shipyard/debian:bookworm")


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=600)


@pytest.fixture(scope="session")
def image() -> Iterator[str]:
    if docker("info", check=False).returncode != 0:
        pytest.fail("no Docker engine answers: run 'make docker'")
    if docker("image", "inspect", BASE_IMAGE, check=False).returncode != 0:
        pytest.fail(f"base image {BASE_IMAGE} is missing: run 'make images'")
    tag = f"localhost/shipyard/app-test:{uuid.uuid4().hex[:8]}"
    docker(
        "build", "-q", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "--build-arg", "GIT_REVISION=testrev",
        "-t", tag, str(APP_DIR),
    )  # fmt: skip
    yield tag
    docker("image", "rm", "-f", tag, check=False)


@pytest.fixture
def container(image: str) -> Iterator[tuple[str, str]]:
    port = free_port()
    name = f"shipyard-app-test-{uuid.uuid4().hex[:8]}"
    docker(
        "run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp:size=64m",  # noqa: S108 - the container's tmpfs "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "-p", f"127.0.0.1:{port}:8080",
        "-e", "APP_API_TOKEN=container-token-123", "-e", "APP_DRAIN_SECONDS=1", image,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/health", timeout=30)
    except TimeoutError:
        pytest.fail("container did not answer:\n" + docker("logs", name, check=False).stdout)
    yield name, url
    docker("rm", "-f", name, check=False)


def call(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            body = response.read()
            is_json = response.headers.get_content_type() == "application/json"
            return response.status, json.loads(body) if is_json else {}
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_image_is_non_root_without_compilers(image: str) -> None:
    user = docker("image", "inspect", "-f", "{{.Config.User}}", image).stdout.strip()
    assert user == "10001:10001"
    probe = docker("run", "--rm", "--entrypoint", "sh", image, "-c", "id -u; command -v gcc cc pip || echo none")
    assert probe.stdout.split() == ["10001", "none"]


def test_the_container_serves_on_a_read_only_root(container: tuple[str, str]) -> None:
    name, url = container
    assert call(url + "/ready") == (200, {"status": "ready"})
    status, info = call(url + "/info")
    assert (status, info["git_revision"], info["database"]) == (200, "testrev", "sqlite")
    headers = {"Content-Type": "application/json"}
    assert call(url + "/api/items", b'{"name": "x"}', headers)[0] == 401
    headers["Authorization"] = "Bearer container-token-123"
    status, item = call(url + "/api/items", b'{"name": "x"}', headers)
    assert status == 201
    assert call(url + f"/api/items/{item['id']}")[1]["name"] == "x"
    assert call(url + "/no/such/route")[0] == 404
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:  # noqa: S310 - loopback
        metrics = response.read().decode()
    assert 'http_requests_total{method="POST",route="/api/items",status="201"} 1.0' in metrics
    # Nothing may be written outside the tmpfs.
    write = docker("exec", name, "sh", "-c", "touch /opt/app/x 2>&1 || echo refused", check=False)
    assert "refused" in write.stdout

    started = time.monotonic()
    docker("stop", "-t", "30", name)
    assert time.monotonic() - started < 15, "SIGTERM did not stop the app promptly"
    assert docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    logs = docker("logs", name)
    assert logs.stderr == "", "everything is logged to stdout, as JSON"
    lines = [line for line in logs.stdout.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert any(r["message"].startswith("SIGTERM: draining") for r in records)
    assert "container-token-123" not in "\n".join(lines)
