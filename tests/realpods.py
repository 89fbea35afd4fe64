"""Helpers for the tests on the local cluster's real node (tests/cluster), after `make up`.

Everything here runs against real containers: the app and PostgreSQL the site
deployed, Prometheus and Alertmanager (stand-ins built here when offline),
and probe pods these tests start. The workloads the default inventory places
on the simulated node (Grafana, kube-state-metrics, the Elastic stack) are not
exercised as programs here; their NetworkPolicies are, through probe pods that
carry their labels on the real node.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Which local cluster (hack/cluster/up.sh --name, --dir): `make up`'s, or one a test job started beside it
# (make tenants-test: SHIPYARD_TEST_CLUSTER and SHIPYARD_TEST_CLUSTER_DIR).
CLUSTER = os.environ.get("SHIPYARD_TEST_CLUSTER") or "shipyard"
STATE = Path(os.environ.get("SHIPYARD_TEST_CLUSTER_DIR") or ROOT / ".sandbox")
KUBECONFIG = STATE / "kubeconfig"
KUBECTL = STATE / "bin" / "kubectl"
NODE_CONTAINER = f"{CLUSTER}-node"  # the container and the real node's name
# What points the site at another cluster than its inventory's: its kubeconfig, context and node.
_TARGET_VARS = {
    "shipyard_kubeconfig": str(KUBECONFIG),
    "shipyard_kube_context": f"local-{CLUSTER}",
    "image_build_node_containers": [NODE_CONTAINER],
}
TARGET: list[str] = [] if CLUSTER == "shipyard" else ["-e", json.dumps(_TARGET_VARS)]
PROBE_IMAGE = "localhost/shipyard/debian:bookworm"
APP_NAMESPACE = "shipyard"
MONITORING_NAMESPACE = "shipyard-monitoring"
# Pod Security `restricted` in every managed namespace: probes comply.
RESTRICTED = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def kubectl(
    *args: str, check: bool = True, stdin: str | None = None, timeout: int = 120
) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(KUBECONFIG), *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if check and run.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({run.returncode}): {run.stderr.strip()[-1500:]}")
    return run


# ansible-playbook as `make` runs it: the repository's tools, config and plain output.
ANSIBLE_ENV = {
    **os.environ,
    "PATH": f"{ROOT / '.venv/bin'}:{STATE / 'bin'}:{os.environ['PATH']}",
    "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    "ANSIBLE_FORCE_COLOR": "0",
    "PY_COLORS": "0",
}


def ansible_playbook(*args: str, timeout: int = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ansible-playbook on the default inventory; output in .stdout (stderr folded in).
    `env`: variables added to its environment (the way a user hands over secrets)."""
    return subprocess.run(
        ["ansible-playbook", "-i", "inventories/sandbox", *TARGET, *args],
        cwd=ROOT, env={**ANSIBLE_ENV, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def kubectl_json(*args: str) -> Any:
    return json.loads(kubectl(*args, "-o", "json").stdout)


# Every kind the site manages in the app's namespace (probes and Job pods aside).
APP_KINDS = "deployments,statefulsets,services,configmaps,secrets,serviceaccounts,cronjobs,horizontalpodautoscalers,"
APP_KINDS += "poddisruptionbudgets,persistentvolumeclaims,networkpolicies,roles,rolebindings,resourcequotas,limitranges"


def app_objects() -> dict[str, str]:
    """kind/name -> uid of everything the site manages in the app's namespace."""
    items = kubectl_json("-n", APP_NAMESPACE, "get", APP_KINDS)["items"]
    return {f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["uid"] for o in items}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120, every: float = 1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def probe_manifest(
    name: str, namespace: str, labels: dict[str, str], image: str, listen: list[tuple[int, str, str]]
) -> dict:
    """A pod on the real node that listens on the given ports (number, protocol, name: named ports are
    what policies refer to) and can connect out with python3."""
    listeners = "; ".join(
        f"threading.Thread(target=serve, args=({port}, {proto!r}), daemon=True).start()" for port, proto, _ in listen
    )
    script = (
        "import socket, threading, time\n"
        "def serve(port, proto):\n"
        "    kind = socket.SOCK_STREAM if proto == 'TCP' else socket.SOCK_DGRAM\n"
        "    s = socket.socket(socket.AF_INET, kind); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "    s.bind(('0.0.0.0', port))\n"
        "    if proto == 'TCP':\n"
        "        s.listen(64)\n"
        "        while True: c, _ = s.accept(); c.sendall(b'ok'); c.close()\n"
        "    while True: d, a = s.recvfrom(512); s.sendto(b'ok', a)\n"
        f"{listeners}\n"
        "while True: time.sleep(3600)\n"
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {**labels, "shipyard.dev/test-probe": "true"}},
        "spec": {
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 0,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "probe", "image": image, "imagePullPolicy": "IfNotPresent",
                "command": ["python3", "-u", "-c", script],
                "ports": [{"containerPort": port, "protocol": proto, **({"name": pname} if pname else {})}
                          for port, proto, pname in listen],
                "securityContext": RESTRICTED,
                "resources": {
                    "requests": {"cpu": "10m", "memory": "24Mi"},
                    "limits": {"cpu": "100m", "memory": "48Mi"},
                },
            }],
        },
    }  # fmt: skip


class Probes:
    """Probe pods started by a test, removed at its end.

    A probe carries a workload's labels, so that policies treat it as that
    workload; it is owned by a ConfigMap of the test's, so that the workload's
    controller (a DaemonSet adopts orphans that match its selector) leaves it alone.
    """

    def __init__(self, image: str) -> None:
        self.image = image
        self.pods: list[tuple[str, str]] = []
        self.owners: dict[str, dict] = {}
        self.lock = threading.Lock()

    def owner(self, namespace: str) -> dict:
        with self.lock:
            return self._owner(namespace)

    def _owner(self, namespace: str) -> dict:
        if namespace not in self.owners:
            name = f"test-probes-{uuid.uuid4().hex[:6]}"
            kubectl("-n", namespace, "create", "configmap", name)
            uid = kubectl("-n", namespace, "get", "configmap", name, "-o", "jsonpath={.metadata.uid}").stdout
            self.owners[namespace] = {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": uid,
                                      "controller": True}  # fmt: skip
        return self.owners[namespace]

    def start(self, namespace: str, labels: dict[str, str], listen: list[tuple[int, str, str]] = ()) -> str:
        name = f"probe-{uuid.uuid4().hex[:8]}"
        manifest = probe_manifest(name, namespace, labels, self.image, list(listen))
        manifest["metadata"]["ownerReferences"] = [self.owner(namespace)]
        kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
        self.pods.append((namespace, name))
        return name

    def start_all(self, peers: list[tuple[str, dict[str, str], list[tuple[int, str, str]]]]) -> list[str]:
        """`start` for each (namespace, labels, listen), up to four at once; the pods' names in that order."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda peer: self.start(*peer), peers))

    def wait_ready(self) -> None:
        by_namespace: dict[str, list[str]] = {}
        for namespace, name in self.pods:
            by_namespace.setdefault(namespace, []).append(f"pod/{name}")
        for namespace, pods in by_namespace.items():
            kubectl("-n", namespace, "wait", "--for=condition=Ready", *pods, "--timeout=120s", timeout=150)

    def ip(self, namespace: str, name: str) -> str:
        return kubectl("-n", namespace, "get", "pod", name, "-o", "jsonpath={.status.podIP}").stdout.strip()

    def connects(self, namespace: str, name: str, host: str, port: int, proto: str = "TCP", timeout: float = 2) -> bool:
        """Whether the probe pod reaches host:port: a TCP connection is made, or a UDP datagram is answered."""
        return self.reaches(namespace, name, [(host, port, proto)], timeout)[0]

    def reaches(self, namespace: str, name: str, targets: list[tuple[str, int, str]], timeout: float = 2) -> list[bool]:
        """Whether the probe pod reaches each (host, port, protocol), all tried at once in one exec.

        TCP: a connection is made. UDP: a datagram is answered. DNS: the name `host`
        resolves through the pod's resolver (a real query to the cluster's DNS).
        Each try runs in a thread of its own in the pod, so a denied flow's timeout
        does not wait for the others'; every try is still a real one from the pod."""
        code = (
            "import json, socket, sys, threading\n"
            "targets, timeout = json.loads(sys.argv[1]), float(sys.argv[2])\n"
            "def reach(host, port, proto):\n"
            "    try:\n"
            "        if proto == 'DNS':\n"
            "            socket.getaddrinfo(host, port)\n"
            "        elif proto == 'TCP':\n"
            "            socket.create_connection((host, port), timeout=timeout).close()\n"
            "        else:\n"
            "            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "            s.settimeout(timeout)\n"
            "            s.sendto(b'hi', (host, port))\n"
            "            s.recv(16)\n"
            "    except OSError:\n"
            "        return False\n"
            "    return True\n"
            "results = [None] * len(targets)\n"
            "def one(i):\n"
            "    results[i] = reach(*targets[i])\n"
            "threads = [threading.Thread(target=one, args=(i,)) for i in range(len(targets))]\n"
            "for t in threads:\n"
            "    t.start()\n"
            "for t in threads:\n"
            "    t.join()\n"
            "print(json.dumps(results))\n"
        )
        run = kubectl("-n", namespace, "exec", name, "--", "python3", "-c", code, json.dumps(targets), str(timeout),
                      check=False, timeout=120)  # fmt: skip
        if run.returncode != 0:
            raise AssertionError(f"probe {namespace}/{name} could not run: {run.stderr.strip()[-500:]}")
        results = json.loads(run.stdout)
        if len(results) != len(targets) or not all(isinstance(r, bool) for r in results):
            raise AssertionError(f"probe {namespace}/{name} answered {run.stdout!r} for {len(targets)} tries")
        return results

    def reach_all(self, tries: dict[str, tuple[str, str, tuple[str, int, str]]]) -> dict[str, bool]:
        """Named tries, each (namespace, probe pod, target as `reaches` takes it): whether each reached.

        One exec per probe pod with all of its tries (`reaches`); up to four pods' execs at once."""
        by_pod: dict[tuple[str, str], list[str]] = {}
        for name, (namespace, pod, _) in tries.items():
            by_pod.setdefault((namespace, pod), []).append(name)

        def one(pod: tuple[str, str]) -> dict[str, bool]:
            names = by_pod[pod]
            return dict(zip(names, self.reaches(*pod, [tries[n][2] for n in names]), strict=True))

        result: dict[str, bool] = {}
        with ThreadPoolExecutor(max_workers=4) as pool:
            for reached in pool.map(one, by_pod):
                result.update(reached)
        return {name: result[name] for name in tries}

    def run(self, namespace: str, name: str, code: str) -> bool:
        """Run python3 code in the probe: True when it exits 0, False when 1."""
        run = kubectl("-n", namespace, "exec", name, "--", "python3", "-c", code, check=False, timeout=60)
        if run.returncode not in (0, 1):
            raise AssertionError(f"probe {namespace}/{name} could not run: {run.stderr.strip()[-500:]}")
        return run.returncode == 0

    def remove(self) -> None:
        for namespace, name in self.pods:
            kubectl("-n", namespace, "delete", "pod", name, "--wait=false", "--ignore-not-found", check=False)
        for namespace, owner in self.owners.items():
            kubectl("-n", namespace, "delete", "configmap", owner["name"], "--ignore-not-found", check=False)
        self.pods.clear()
        self.owners.clear()


def http(method: str, url: str, body: dict | None = None, token: str = "", timeout: float = 5) -> tuple[int, dict]:
    """An HTTP request with a JSON body; the status and the JSON answer (4xx/5xx included)."""
    data = json.dumps(body).encode() if body else None
    request = urllib.request.Request(url, method=method, data=data)  # noqa: S310  # the test's own loopback URL
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310  # loopback URL of the test
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def ready(app_url: str) -> bool:
    """Whether the app answers /ready with 200."""
    try:
        return http("GET", f"{app_url}/ready")[0] == 200
    except OSError:
        return False


def in_node(ref: str) -> bool:
    """Whether the node's containerd (the kubelet's namespace) names the image."""
    return bool(subprocess.run(
        ["docker", "exec", NODE_CONTAINER, "ctr", "-n", "k8s.io", "images", "ls", "-q", f"name=={ref}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip())  # fmt: skip


def load_image(ref: str) -> None:
    """Hand a local Docker image to the node's containerd, as `kind load` does (docker save | ctr import)."""
    if in_node(ref):
        return
    with subprocess.Popen(["docker", "save", ref], stdout=subprocess.PIPE) as save:
        load = subprocess.run(
            ["docker", "exec", "-i", NODE_CONTAINER, "ctr", "-n", "k8s.io", "images", "import", "-"],
            stdin=save.stdout, capture_output=True, text=True, check=False,
        )  # fmt: skip
    assert save.returncode == 0 and load.returncode == 0, f"could not load {ref} into the node: {load.stderr}"
