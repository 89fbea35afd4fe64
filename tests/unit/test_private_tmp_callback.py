"""shipyard.platform.private_tmp: a run leaves no kubeconfig key in the temp folder.

The Kubernetes client writes a kubeconfig's embedded certificates and key to temp
files and removes them only when its interpreter exits normally; Mitogen's lasting
interpreter (the repository's strategy) ends with a signal. Each case runs a real
playbook whose kubernetes.core.k8s_info call loads a kubeconfig with embedded data
(a throwaway key made here) against a loopback port where nothing listens, with
TMPDIR pointed at a folder of the test's own, then reads what is left in it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
ENV.pop("ANSIBLE_CALLBACKS_ENABLED", None)

PLAYBOOK = """\
- name: Load a kubeconfig with embedded credentials
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Ask an API server that does not answer
      kubernetes.core.k8s_info:
        kubeconfig: "{{ playbook_dir }}/kubeconfig"
        kind: Namespace
        name: default
      register: asked
      ignore_errors: true

    - name: Show what the client said
      ansible.builtin.debug:
        msg: "ASKED {{ asked.msg | default('') }}"
"""


# The controller's own Python, which has the Kubernetes client, as the repository's inventories say.
LOCAL = ["-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def credentials() -> tuple[bytes, bytes]:
    """A throwaway self-signed certificate and its EC key, as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "private-tmp-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


@pytest.fixture
def tmp(tmp_path: Path) -> Iterator[Path]:
    """The run's TMPDIR: short, as Mitogen's socket in it must fit in a UNIX socket path (pytest's are long)."""
    path = Path(tempfile.mkdtemp(prefix="sy-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_site_like(tmp_path: Path, tmp: Path, credentials: tuple[bytes, bytes], **env: str) -> str:
    """Run the playbook with the temp folder at tmp; its output."""
    cert, key = credentials
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {
            "server": f"https://127.0.0.1:{closed_port()}", "certificate-authority-data": b64(cert)}}],
        "users": [{"name": "t", "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
    }  # fmt: skip
    (tmp_path / "kubeconfig").write_text(json.dumps(kubeconfig))
    (tmp_path / "kubeconfig").chmod(0o600)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    run = subprocess.run(
        ["ansible-playbook", *LOCAL, str(tmp_path / "play.yml")],
        cwd=ROOT, env={**ENV, "TMPDIR": str(tmp), **env}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    # The client did load the kubeconfig and try the server: the test exercised the path that writes the files.
    assert "ASKED" in run.stdout and "Connection refused" in run.stdout, run.stdout
    return run.stdout


def left_behind(tmp: Path, key: bytes) -> list[Path]:
    return [p for p in tmp.rglob("*") if p.is_file() and key.strip() in p.read_bytes()]


def test_the_repositorys_runs_leave_no_key_and_no_folder(
    tmp_path: Path, tmp: Path, credentials: tuple[bytes, bytes]
) -> None:
    _, key = credentials
    run_site_like(tmp_path, tmp, credentials)
    assert left_behind(tmp, key) == []
    assert sorted(p.name for p in tmp.iterdir()) == [], "the run's private folder stayed"


def test_without_the_callback_mitogen_leaves_the_key(
    tmp_path: Path, tmp: Path, credentials: tuple[bytes, bytes]
) -> None:
    """Why the callback exists, and proof that the first test can fail."""
    _, key = credentials
    run_site_like(tmp_path, tmp, credentials, ANSIBLE_CALLBACKS_ENABLED="shipyard.platform.preload")
    left = left_behind(tmp, key)
    assert len(left) == 1, left
    assert oct(left[0].stat().st_mode & 0o777) == "0o600"


def test_without_mitogen_the_client_removes_its_files(
    tmp_path: Path, tmp: Path, credentials: tuple[bytes, bytes]
) -> None:
    """A collection user's default (Ansible's own strategy) never needed the callback."""
    _, key = credentials
    run_site_like(
        tmp_path, tmp, credentials, ANSIBLE_CALLBACKS_ENABLED="shipyard.platform.preload", ANSIBLE_STRATEGY="linear"
    )
    assert left_behind(tmp, key) == []


def test_discovery_caches_are_kept_across_runs(tmp_path: Path, tmp: Path) -> None:
    """A cache in the shared temp folder reaches the run's folder, and one the run writes comes back."""
    old = '{"kept": true}'
    probe = tmp_path / "probe.yml"
    probe.write_text(
        "- name: Probe\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Read the cache the run sees and write a new one, as the client does\n"
        "      ansible.builtin.shell: |\n"
        "        set -eu\n"
        '        case "$TMPDIR" in */shipyard-run-*) ;; *) echo "TMPDIR is $TMPDIR"; exit 1 ;; esac\n'
        '        cat "$TMPDIR/k8srcp-old.json"\n'
        '        stat -c " INODE %i" "$TMPDIR/k8srcp-old.json"\n'
        '        echo \'{"new": true}\' > "$TMPDIR/k8srcp-new.json"\n'
        "      changed_when: false\n"
        "      register: seen\n"
        "    - name: Say it\n"
        "      ansible.builtin.debug:\n"
        '        msg: "SEEN {{ seen.stdout }}"\n'
    )
    (tmp / "k8srcp-old.json").write_text(old)
    run = subprocess.run(
        ["ansible-playbook", *LOCAL, str(probe)],
        cwd=ROOT, env={**ENV, "TMPDIR": str(tmp)}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'SEEN {"kept": true}' in run.stdout, run.stdout
    # The same file, linked rather than copied: the client's rewrite in place reaches the kept cache.
    assert f"INODE {(tmp / 'k8srcp-old.json').stat().st_ino}" in run.stdout, run.stdout
    assert sorted(p.name for p in tmp.iterdir()) == ["k8srcp-new.json", "k8srcp-old.json"]
    assert (tmp / "k8srcp-old.json").read_text() == old


SLEEPER = """\
- name: Sleep
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Sleep until killed
      ansible.builtin.command: sleep 120
      changed_when: false
"""


def folders(tmp: Path) -> set[Path]:
    return set(tmp.glob("shipyard-run-*"))


def start_sleeper(tmp_path: Path, tmp: Path) -> tuple[subprocess.Popen, Path]:
    """A run that sleeps in its task, and its private folder."""
    (tmp_path / "sleep.yml").write_text(SLEEPER)
    before = folders(tmp)
    run = subprocess.Popen(
        ["ansible-playbook", *LOCAL, str(tmp_path / "sleep.yml")],
        cwd=ROOT, env={**ENV, "TMPDIR": str(tmp)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert run.stdout is not None
    for line in run.stdout:  # the task's header: the run is past its start and inside the task
        if line.startswith("TASK [Sleep until killed]"):
            break
    else:
        pytest.fail(f"the sleeping run ended early with {run.wait()}")
    (folder,) = folders(tmp) - before
    return run, folder


def kill_run(run: subprocess.Popen) -> None:
    """SIGKILL a run's every process, and reap it: its process group, and its workers, which ansible-core
    moves into sessions of their own (a worker left alive waits for its dead controller for ever)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, queue = [], [run.pid]
    while queue:
        pid = queue.pop()
        tree.append(pid)
        queue.extend(children.get(pid, []))
    os.killpg(run.pid, signal.SIGKILL)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):  # gone with its group
            os.kill(pid, signal.SIGKILL)
    run.communicate(timeout=30)


def test_the_next_run_removes_a_killed_runs_folder_and_not_a_live_ones(
    tmp_path: Path, tmp: Path, credentials: tuple[bytes, bytes]
) -> None:
    live, live_folder = start_sleeper(tmp_path, tmp)
    try:
        killed, killed_folder = start_sleeper(tmp_path, tmp)
        # SIGKILL to the run's every process (the controller and the workers it forked, which hold its
        # folder's lock while they live, and their `sleep`): no exit handler runs.
        kill_run(killed)
        assert killed_folder.is_dir(), "the killed run removed its folder: nothing for the next run to do"
        (killed_folder / "tmpkey").write_bytes(credentials[1])  # as the client's files would be

        run_site_like(tmp_path, tmp, credentials)
        assert not killed_folder.exists()
        assert live_folder.is_dir(), "the next run removed the folder of a run that still lives"
        assert folders(tmp) == {live_folder}
    finally:
        kill_run(live)
