"""The cluster filters: the reason a call failed, and when the site lock is free."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("shipyard_cluster_filters", ROOT / "plugins/filter/cluster.py")
cluster = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cluster)

NOW = "2026-12-01T10:00:00.000000Z"
HOST = socket.gethostname()


# Messages as kubernetes.core 6.2 reports them (captured from real failures).
@pytest.mark.parametrize(
    ("msg", "meaning"),
    [
        (
            "Task failed: Module failed: HTTPSConnectionPool(host='127.0.0.1', port=1): Max retries exceeded "
            "with url: /version (Caused by NewConnectionError(\"HTTPSConnection(host='127.0.0.1', port=1): "
            'Failed to establish a new connection: [Errno 111] Connection refused"))',
            "connection refused",
        ),
        (
            "Task failed: Module failed: while parsing a flow node\nexpected the node content, but found "
            "'<stream end>'\n  in \"/tmp/k\", line 2, column 1",
            "the kubeconfig is not valid",
        ),
        ("Could not find or access '/tmp/nonexist' on the Ansible Controller.", "the kubeconfig file cannot be read"),
        (
            "Could not create API client: Invalid kube-config file. Expected object with name local-x in "
            "kubeconfig/contexts list",
            "the context is not in the kubeconfig",
        ),
        (
            "Task failed: Module failed: 401\nReason: Unauthorized\nHTTP response headers: HTTPHeaderDict({'A': "
            '\'b\'})\nHTTP response body: b\'{"kind":"Status","message":"Unauthorized","code":401}\'\n'
            "Original traceback: File x",
            "unauthorized",
        ),
        (
            "403\nReason: Forbidden\nHTTP response headers: HTTPHeaderDict({})\nHTTP response body: "
            'b\'{"message":"leases is forbidden: User \\"x\\" cannot get resource","code":403}\'',
            "forbidden",
        ),
        (
            "HTTPSConnectionPool(host='k8s.invalid', port=6443): Max retries exceeded (Caused by "
            "NameResolutionError(\"Failed to resolve 'k8s.invalid' ([Errno -2] Name or service not known)\"))",
            "does not resolve",
        ),
        (
            "HTTPSConnectionPool(host='127.0.0.1', port=16443): Max retries exceeded (Caused by "
            "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')))",
            "certificate is not trusted",
        ),
    ],
)
def test_the_reason_names_what_went_wrong_and_keeps_the_clients_words(msg: str, meaning: str) -> None:
    reason = cluster.shipyard_k8s_reason({"failed": True, "msg": msg})
    assert reason.startswith(meaning) or meaning in reason.split(";")[0], reason
    assert "the client said: " in reason
    assert "Original traceback" not in reason and "HTTPHeaderDict" not in reason, reason


def test_an_http_error_keeps_the_apis_message() -> None:
    msg = (
        '403\nReason: Forbidden\nHTTP response headers: HTTPHeaderDict({"x": "y"})\n'
        'HTTP response body: b\'{"message":"leases is forbidden","code":403}\''
    )
    assert cluster.shipyard_k8s_reason({"msg": msg}).endswith("403 Reason: Forbidden: leases is forbidden")


_REFUSED = (
    "urllib3.exceptions.MaxRetryError: HTTPSConnectionPool(host='127.0.0.1', port=16443): Max retries exceeded "
    "with url: /version (Caused by NewConnectionError(\"HTTPSConnection(host='127.0.0.1', port=16443): Failed to "
    'establish a new connection: [Errno 111] Connection refused"))'
)
_GARBAGE = (
    "yaml.scanner.ScannerError: while parsing a flow node\n"
    "expected the node content, but found '<stream end>'\n"
    '  in "/tmp/k", line 2, column 1'
)


@pytest.mark.parametrize(
    ("exception", "meaning", "ends"),
    [
        (_REFUSED, "connection refused (nothing listens at the server's address)", 'Connection refused"))'),
        # The message goes on over lines: read from the exception's line to the end.
        (_GARBAGE, "the kubeconfig is not valid", 'in "/tmp/k", line 2, column 1'),
    ],
    ids=["refused", "garbage"],
)
def test_a_module_that_ended_on_an_exception_is_read_from_its_traceback(
    exception: str, meaning: str, ends: str
) -> None:
    # As Mitogen reports a kubernetes.core module that raised: no result, its traceback.
    result = {
        "failed": True,
        "msg": "Module result deserialization failed: No start of json char found",
        "module_stdout": "",
        "module_stderr": f'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n{exception}\n',
    }
    reason = cluster.shipyard_k8s_reason(result)
    assert reason.startswith(f"{meaning}; the client said: {exception.split(':')[0]}: ")
    assert reason.endswith(ends)


def test_a_timed_out_task_says_how_long_it_waited() -> None:
    result = {"failed": True, "msg": "Task failed: Timed out after 7 second(s).", "timedout": {"period": 7}}
    assert cluster.shipyard_k8s_reason(result) == "no answer within 7 s (the task timed out)"


def lease(holder: str, acquired: str = "2026-12-01T09:59:00.000000Z", duration: int = 3600) -> list[dict]:
    return [
        {
            "metadata": {"name": "shipyard-site", "resourceVersion": "42"},
            "spec": {
                "holderIdentity": holder,
                "acquireTime": acquired,
                "renewTime": acquired,
                "leaseDurationSeconds": duration,
            },
        }
    ]


def test_no_lease_is_free() -> None:
    state = cluster.shipyard_lock_state([], "me", NOW)
    assert state["free"] and not state["exists"]


def test_a_live_holder_on_this_host_keeps_it() -> None:
    # Another run on this host, alive, neither this process nor one of its parents.
    live = subprocess.Popen(["sleep", "60"])
    try:
        holder = f"root@{HOST} pid {live.pid} (all)"
        state = cluster.shipyard_lock_state(lease(holder), "someone else", NOW)
    finally:
        live.kill()
        live.wait()
    assert not state["free"]
    assert state["reason"] == f"held by {holder} for 60 s"
    assert state["resource_version"] == "42"


def test_a_holder_whose_process_ended_gives_it_up() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    state = cluster.shipyard_lock_state(lease(f"root@{HOST} pid {dead.pid} (all)"), "me", NOW)
    assert state["free"] and "ended without releasing it" in state["reason"]


def test_a_holder_that_ended_but_was_not_reaped_gives_it_up() -> None:
    # A zombie: the run ended, its parent (here this test) has not collected it yet.
    ended = subprocess.Popen(["true"])
    try:
        for _attempt in range(100):
            if Path(f"/proc/{ended.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.05)
        state = cluster.shipyard_lock_state(lease(f"root@{HOST} pid {ended.pid} (all)"), "me", NOW)
        assert state["free"] and "ended without releasing it" in state["reason"]
    finally:
        ended.wait()


def test_a_holder_on_another_host_keeps_it_until_it_expires() -> None:
    holder = "ci@elsewhere pid 1 (all)"
    assert not cluster.shipyard_lock_state(lease(holder, duration=3600), "me", NOW)["free"]
    expired = cluster.shipyard_lock_state(lease(holder, duration=30), "me", NOW)
    assert expired["free"] and "let it expire" in expired["reason"]


def test_the_holder_itself_may_go_on() -> None:
    holder = f"root@{HOST} pid {os.getpid()} (all)"
    assert cluster.shipyard_lock_state(lease(holder), holder, NOW)["reason"] == "held by this run"


def _identity_in_a_fork(queue) -> None:
    queue.put(cluster.shipyard_run_identity("app"))


def test_the_run_identity_names_the_ansible_playbook_process() -> None:
    # In ansible-playbook's main process (shipyard.platform.controller_actions runs tasks there): itself.
    assert cluster.shipyard_run_identity("app").endswith(f"@{HOST} pid {os.getpid()} (app)")
    # In a worker, a multiprocessing fork of it: its parent, not the worker.
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    worker = context.Process(target=_identity_in_a_fork, args=(queue,))
    worker.start()
    identity = queue.get(timeout=30)
    worker.join(timeout=30)
    assert identity.endswith(f"@{HOST} pid {os.getpid()} (app)"), identity
    assert str(worker.pid) not in identity


def test_a_run_started_by_the_holder_goes_on_without_taking_it() -> None:
    # A playbook that runs ansible-playbook (Molecule's verify does): the child is part of the holder's run
    # (here the holder is this process's parent).
    holder = f"root@{HOST} pid {os.getppid()} (all)"
    state = cluster.shipyard_lock_state(lease(holder), "child", NOW)
    assert state["free"] and not state["take"], state
    assert "which started this run" in state["reason"]


# Run in a PID namespace of its own, where the outer interpreter is PID 1 and starts this one.
NESTED = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("c", sys.argv[1])
c = importlib.util.module_from_spec(spec)
spec.loader.exec_module(c)
print(json.dumps(c.shipyard_lock_state(json.loads(sys.argv[2]), "child", sys.argv[3])))
"""


def test_a_run_started_by_a_holder_that_is_pid_1_goes_on_without_taking_it() -> None:
    # ansible-playbook as a container's first process (docker run image ansible-playbook ...), running
    # another playbook: the nested run must see its parent, PID 1, as the holder, not wait for itself.
    holder = f"root@{HOST} pid 1 (all)"
    outer = "import subprocess, sys; sys.exit(subprocess.run([sys.executable, '-c', *sys.argv[1:]]).returncode)"
    run = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", outer,
         NESTED, str(ROOT / "plugins/filter/cluster.py"), json.dumps(lease(holder)), NOW],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if run.returncode != 0 and "Operation not permitted" in run.stderr:
        pytest.skip("no new PID namespace here (unshare needs CAP_SYS_ADMIN): " + run.stderr.strip())
    assert run.returncode == 0, run.stderr
    state = json.loads(run.stdout)
    assert state["free"] and not state["take"], state
    assert "which started this run" in state["reason"]
