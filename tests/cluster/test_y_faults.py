"""Faults on the local cluster, tried as a user meets them: what the run says and how long it takes.

Each test runs the app's playbook (the shortest one that takes the site lock
and applies objects) against the real cluster and breaks something while it
runs: the API server frozen (SIGSTOP) or gone, a second run at the same time,
the run killed. They prove that a run never hangs past its timeout, names the
cluster and the reason, and that the next run converges and keeps the secrets.

Named to run after the other tests of this folder (test_y_...): a frozen API
server disturbs everything that talks to the cluster meanwhile.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from realpods import ANSIBLE_ENV, APP_NAMESPACE, NODE_CONTAINER, ROOT, ansible_playbook, kubectl, kubectl_json, wait_for
from tenantsite import recap

PLAYBOOK = ["ansible-playbook", "-i", "inventories/sandbox", "playbooks/app.yml"]
ENV = ANSIBLE_ENV
# A task of the app role that runs after the preflight and the lock: the run is applying.
APPLYING = "app_deploy : Config |"  # the role by its short or its collection name


def start(*extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [*PLAYBOOK, *extra], cwd=ROOT, env={**ENV, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def read_until(run: subprocess.Popen, marker: str, timeout: float = 120) -> str:
    """The run's output up to the first line holding marker."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for line in run.stdout:
        seen.append(line)
        if marker in line:
            return "".join(seen)
        assert time.monotonic() < deadline, f"no '{marker}' within {timeout} s:\n{''.join(seen)[-3000:]}"
    raise AssertionError(f"the run ended before '{marker}':\n{''.join(seen)[-3000:]}")


def finish(run: subprocess.Popen, timeout: float) -> tuple[int, str, float]:
    """Wait for the run; its exit code, the rest of its output and how long it took."""
    started = time.monotonic()
    out, _ = run.communicate(timeout=timeout)
    return run.returncode, out, time.monotonic() - started


def converge(*extra: str, env: dict[str, str] | None = None) -> str:
    run = ansible_playbook("playbooks/app.yml", *extra, env=env)
    assert run.returncode == 0, run.stdout[-4000:]
    return run.stdout


def component_pid(name: str) -> int:
    out = subprocess.run(
        ["docker", "exec", NODE_CONTAINER, "cat", f"/run/shipyard/{name}.pid"],
        check=False,
        capture_output=True,
        text=True,
    )
    return int(out.stdout)


def signal_component(name: str, sig: str) -> None:
    subprocess.run(["docker", "exec", NODE_CONTAINER, "kill", f"-{sig}", str(component_pid(name))], check=True)


def node_status() -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "exec", NODE_CONTAINER, "shipyard-node", "status"], check=False, capture_output=True, text=True
    )


def app_secret() -> str:
    return kubectl("-n", APP_NAMESPACE, "get", "secret", "shipyard-app-secrets", "-o", "jsonpath={.data}").stdout


def lock_holder() -> str:
    return kubectl_json("-n", "default", "get", "lease", "shipyard-site")["spec"]["holderIdentity"]


@pytest.fixture
def frozen_api_server(cluster: Path) -> Iterator[callable]:
    """Freeze the API server on demand; it is always thawed at the end."""
    frozen: list[int] = []

    def freeze() -> None:
        frozen.append(component_pid("kube-apiserver"))
        subprocess.run(["docker", "exec", NODE_CONTAINER, "kill", "-STOP", str(frozen[-1])], check=True)

    yield freeze
    for pid in frozen:
        subprocess.run(["docker", "exec", NODE_CONTAINER, "kill", "-CONT", str(pid)], check=False)
    wait_for("the API server to answer again", lambda: kubectl("get", "--raw", "/readyz", check=False).returncode == 0)


def test_a_frozen_api_server_fails_the_run_within_its_timeout_naming_the_cluster(frozen_api_server) -> None:
    run = start("-e", "shipyard_k8s_timeout=10")
    read_until(run, APPLYING)
    frozen_api_server()
    rc, out, took = finish(run, timeout=120)
    print(f"the run failed {took:.1f} s after the API server froze")
    assert rc != 0
    assert took < 10 + 20, f"the run took {took:.0f} s to fail with a 10 s timeout"
    message = out[out.rindex("[ERROR]") :]
    assert "The sandbox cluster (context local-shipyard" in message, message
    assert "did not answer within 10 s" in message and "shipyard_k8s_timeout" in message, message

    # The node reports the frozen component, and `make sandbox-up` refuses to call it healthy.
    status = node_status()
    assert status.returncode != 0 and re.search(r"kube-apiserver\s+STOPPED", status.stdout), status.stdout
    up = subprocess.run(
        ["hack/cluster/up.sh"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**ENV, "SHIPYARD_CLUSTER_HEALTH_WAIT": "3"},
    )  # fmt: skip
    assert up.returncode != 0
    assert "kube-apiserver" in up.stderr and "STOPPED" in up.stderr, up.stderr


def test_after_a_freeze_and_exits_the_control_plane_comes_back_and_the_rerun_converges(frozen_api_server) -> None:
    """The local cluster runs its controller-manager and scheduler without leader
    election (one instance each), so a freeze alone does not end them; the
    process exits that a freeze causes elsewhere are made here by killing them."""
    secrets = app_secret()
    frozen_api_server()
    restarted = [rf"{c}\s+running \(pid \d+, restarts [1-9]" for c in ("kube-controller-manager", "kube-scheduler")]
    for component in ("kube-controller-manager", "kube-scheduler"):
        signal_component(component, "KILL")
    # The supervisor starts each again 2 s after it exits; the new processes then meet the API
    # server still frozen for a while before it thaws.
    wait_for(
        "the supervisor to start both again under the frozen API server",
        lambda: all(re.search(pattern, node_status().stdout) for pattern in restarted),
        timeout=30,
        every=0.5,
    )
    time.sleep(5)
    signal_component("kube-apiserver", "CONT")
    wait_for("every component of the node to run", lambda: node_status().returncode == 0, timeout=90)
    status = node_status().stdout
    assert all(re.search(pattern, status) for pattern in restarted), status

    # The control plane schedules again: a deleted app pod is replaced by a new one that gets ready.
    selector = ["-n", APP_NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=shipyard-app"]
    before = {p["metadata"]["name"] for p in kubectl_json(*selector)["items"]}
    kubectl("-n", APP_NAMESPACE, "delete", "pod", sorted(before)[0], "--wait=false")

    def replaced() -> bool:
        return any(
            p["metadata"]["name"] not in before
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
            for p in kubectl_json(*selector)["items"]
        )

    wait_for("a new app pod to be scheduled, started and ready", replaced, timeout=180)
    converge()
    assert recap(converge())["localhost"][0] == 0
    assert app_secret() == secrets


def test_two_runs_at_once_take_turns_and_the_second_names_the_first(cluster: Path) -> None:
    secrets = app_secret()
    first = start()
    read_until(first, "app_deploy : Preflight")
    # The first run holds the lock from here; it is paused until the second has found it held, so
    # the test does not depend on which of the two is faster (a first run that finished its last
    # tasks before the second reached the lock made the second take it freely).
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = start()
        seen = read_until(second, "K8s lock | Wait for the holder to finish")
    finally:
        os.kill(first.pid, signal.SIGCONT)
    rc1, out1, _ = finish(first, timeout=300)
    rc2, out2, _ = finish(second, timeout=300)
    out2 = seen + out2
    assert rc1 == 0, out1[-3000:]
    assert rc2 == 0, out2[-3000:]
    waited = re.search(r"The site lock default/shipyard-site is held by (\S+@\S+ pid (\d+))", out2)
    assert waited, f"the second run did not say it waited:\n{out2[-3000:]}"
    assert int(waited[2]) == first.pid, waited[0]
    assert recap(out2)["localhost"][0] == 0
    assert app_secret() == secrets


def test_a_killed_run_leaves_a_lock_the_next_run_takes_over(cluster: Path) -> None:
    secrets = app_secret()
    # The runs' temp folder, the test's own: the killed run's private folder (with the kubeconfig's
    # client key in it) is found there, and the next runs remove it.
    tmp = Path(tempfile.mkdtemp(prefix="sy-"))  # short: Mitogen's socket path must fit
    try:
        run = start(env={"TMPDIR": str(tmp)})
        read_until(run, APPLYING)
        os.kill(run.pid, signal.SIGKILL)
        run.communicate(timeout=30)
        assert f" pid {run.pid} " in lock_holder()
        assert len(list(tmp.glob("shipyard-run-*"))) == 1, sorted(tmp.iterdir())

        started = time.monotonic()
        converge(env={"TMPDIR": str(tmp)})
        assert time.monotonic() - started < 120
        assert f" pid {run.pid} " not in lock_holder()
        assert recap(converge(env={"TMPDIR": str(tmp)}))["localhost"][0] == 0
        assert app_secret() == secrets
        # Only kubernetes.core's discovery caches stay: no folder, no key.
        assert [p.name for p in tmp.iterdir() if not p.name.startswith("k8srcp-")] == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubeconfig(path: Path, server: str, token: str = "none") -> Path:  # noqa: S107 (a token no server accepts)
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: local-shipyard\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}', insecure-skip-tls-verify: true}}}}]\n"
        f"users: [{{name: u, user: {{token: {token}}}}}]\n"
        "contexts: [{name: local-shipyard, context: {cluster: c, user: u}}]\n"
    )
    return path


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("refused", "connection refused"),
        ("garbage", "the kubeconfig is not valid"),
        ("missing", "the kubeconfig file cannot be read"),
        ("unauthorized", "unauthorized: the credentials in the kubeconfig were refused"),
        ("no-context", "the context is not in the kubeconfig"),
    ],
)
def test_the_preflight_gives_the_clients_reason(cluster: Path, tmp_path: Path, case: str, reason: str) -> None:
    port = (ROOT / ".sandbox/port").read_text().strip()
    path = {
        "refused": lambda: kubeconfig(tmp_path / "k", f"https://127.0.0.1:{free_port()}"),
        "garbage": lambda: (tmp_path / "k").write_text("clusters: [\n") and tmp_path / "k",
        "missing": lambda: tmp_path / "absent",
        "unauthorized": lambda: kubeconfig(tmp_path / "k", f"https://127.0.0.1:{port}", token="not-a-token"),  # noqa: S106 (refused on purpose)
        "no-context": lambda: kubeconfig(tmp_path / "k", f"https://127.0.0.1:{port}").write_text(
            (tmp_path / "k").read_text().replace("local-shipyard", "other")
        )
        and tmp_path / "k",
    }[case]()
    started = time.monotonic()
    run = subprocess.run(
        [*PLAYBOOK, "-e", f"shipyard_kubeconfig={path}"],
        check=False,
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - started
    assert run.returncode != 0
    message = run.stdout[run.stdout.rindex("[ERROR]") :].splitlines()[0]
    print(f"{case} ({took:.1f} s): {message}")
    assert "The sandbox cluster (context local-shipyard" in message, message
    assert reason in message, message
    assert "no reason given" not in message
    assert "changed=0" in run.stdout
