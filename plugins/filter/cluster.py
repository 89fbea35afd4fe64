"""Filters for runs against a cluster: why a call failed, who holds the site lock, what a typo meant."""

from __future__ import annotations

import difflib
import getpass
import multiprocessing
import os
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# What the Kubernetes client says, and what it means for the user; first match wins.
_REASONS: list[tuple[str, str]] = [
    (r"Connection refused", "connection refused (nothing listens at the server's address)"),
    (r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|SSLError", "the server's TLS certificate is not trusted"),
    (
        r"Name or service not known|Temporary failure in name resolution|nodename nor servname|NameResolutionError",
        "the server's host name does not resolve (DNS)",
    ),
    (r"No route to host|Network is unreachable", "no route to the server"),
    (r"timed out|Read timed out|ConnectTimeout", "the server did not answer in time"),
    (r"\b401\b|Unauthorized", "unauthorized: the credentials in the kubeconfig were refused"),
    (r"\b403\b|Forbidden|forbidden", "forbidden: the user in the kubeconfig may not do this"),
    (r"Could not find or access", "the kubeconfig file cannot be read"),
    (r"while parsing|while scanning|expected .*node|mapping values", "the kubeconfig is not valid"),
    (
        r"context .* not found|Context .* not found|Expected key current-context|contexts list",
        "the context is not in the kubeconfig",
    ),
]
# The line of a traceback that names the exception: "pkg.mod.SomeError: message".
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Warning): ")
_PREFIX = re.compile(r"^(Task failed: )?(Module failed: )?(Action failed: )?")


def _meaning(detail: str) -> str | None:
    """What the client's words mean, when they match a known reason."""
    return next((meaning for pattern, meaning in _REASONS if re.search(pattern, detail)), None)


def shipyard_k8s_reason(result: dict[str, Any]) -> str:
    """The reason a call to the Kubernetes API failed, in words, followed by the client's own detail.

    `result` is the failed task's result (`ansible_failed_result`). A task killed by
    its `timeout` keyword carries `timedout.period`.
    """
    if result.get("timedout"):
        period = result["timedout"].get("period", "?")
        return f"no answer within {period} s (the task timed out)"
    detail = _PREFIX.sub("", str(result.get("msg") or "").strip()) or "the client gave no detail"
    # A module that ended on an exception it did not catch left no result, only
    # its traceback (Mitogen reports that as a deserialization failure): the
    # traceback's last exception, with the lines its message goes on over, is
    # the client's reason.
    if result.get("module_stderr") and not str(result.get("module_stdout") or "").strip():
        lines = [line.strip() for line in str(result["module_stderr"]).splitlines() if line.strip()]
        starts = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
        if starts and _meaning(detail) is None:
            detail = " ".join(lines[starts[-1] :])
    detail = " ".join(detail.split()).split(" Original traceback:", maxsplit=1)[0]
    # An HTTP error: keep the status line and the API's own message, not headers and body.
    api_message = re.search(r'"message":"((?:[^"\\]|\\.)*)"', detail)
    if "HTTP response headers" in detail:
        detail = detail.split(" HTTP response headers")[0] + (f": {api_message[1]}" if api_message else "")
    meaning = _meaning(detail)
    return f"{meaning}; the client said: {detail}" if meaning else detail


def _playbook_pid() -> int:
    """The ansible-playbook process's PID, from its main process or from a worker (a multiprocessing fork of it).

    A task's filters run in its worker, or in the main process itself where a callback runs the task there
    (shipyard.platform.controller_actions).
    """
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None and parent.pid is not None else os.getpid()


def shipyard_run_identity(label: str) -> str:
    """Who this run is, for the site lock: user@host, the ansible-playbook process and a label."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {_playbook_pid()} ({label})"


_IDENTITY = re.compile(r"^(?P<user>[^@]*)@(?P<host>\S+) pid (?P<pid>\d+)\b")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _alive_here(identity: str) -> bool | None:
    """True/False when the holder ran on this host and its process is (not) alive; None when elsewhere."""
    match = _IDENTITY.match(identity)
    if not match or match["host"] != socket.gethostname():
        return None
    pid = int(match["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has ended: only its parent has not collected its exit status yet.
    stat = _proc_stat(pid)
    return not stat or stat[0] != "Z"


def _proc_stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command in parentheses (state, ppid, ...); empty when unread."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _ancestors(pid: int) -> set[int]:
    """pid and the processes above it, read from /proc (empty where there is no /proc).

    PID 1 included: in a container, ansible-playbook can be the first process (`docker run image
    ansible-playbook ...`), and a playbook it runs has it as its parent."""
    seen: set[int] = set()
    while pid > 0 and pid not in seen:
        seen.add(pid)
        stat = _proc_stat(pid)
        if len(stat) < 2:
            break
        pid = int(stat[1])  # the parent's pid; PID 1's is 0
    return seen


def _held_by_a_parent(identity: str) -> bool:
    """Whether the holder is an ansible-playbook that started this one (a playbook that runs another)."""
    match = _IDENTITY.match(identity)
    return bool(match and match["host"] == socket.gethostname() and int(match["pid"]) in _ancestors(_playbook_pid()))


def shipyard_lock_state(resources: list[dict[str, Any]], me: str, now: str | None = None) -> dict[str, Any]:
    """Whether this run may take the site lock (a Lease), and why.

    Free when there is no Lease, when this run holds it, when its holder ran on
    this host and its process is gone (a killed run), or when the holder has not
    renewed it within its leaseDurationSeconds. `take` says whether this run
    writes itself in as the holder: not when it or a run that started it holds it.
    """
    now_dt = _parse_time(now) or datetime.now(UTC)
    if not resources:
        return {"free": True, "take": True, "exists": False, "reason": "no lock", "holder": "", "age": 0,
                "resource_version": ""}  # fmt: skip
    lease = resources[0]
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or ""
    acquired = _parse_time(spec.get("acquireTime")) or now_dt
    renewed = _parse_time(spec.get("renewTime")) or acquired
    age = max(0, int((now_dt - acquired).total_seconds()))
    state = {
        "exists": True,
        "holder": holder,
        "age": age,
        "resource_version": lease["metadata"].get("resourceVersion", ""),
    }
    duration = int(spec.get("leaseDurationSeconds") or 0)
    # (applies, free, take, reason): the first rule that applies decides.
    rules = [
        (not holder, True, True, "released"),
        (holder == me, True, False, "held by this run"),
        (_held_by_a_parent(holder), True, False, f"held by {holder}, which started this run"),
        (_alive_here(holder) is False, True, True, f"its holder ({holder}) ended without releasing it"),
        (
            duration and (now_dt - renewed).total_seconds() > duration,
            True,
            True,
            f"its holder ({holder}) let it expire",
        ),
        (True, False, False, f"held by {holder} for {age} s"),
    ]
    free, take, reason = next(rule[1:] for rule in rules if rule[0])
    return state | {"free": free, "take": take, "reason": reason}


def shipyard_suggest(unknown: list[str], known: list[str]) -> str:
    """'Did you mean ...?' for each unknown name that is close to a known one."""
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        if close:
            hints.append(f"{name}: did you mean {close[0]}?")
    return " ".join(hints)


class FilterModule:
    """Cluster call filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "k8s_reason": shipyard_k8s_reason,
            "run_identity": shipyard_run_identity,
            "lock_state": shipyard_lock_state,
            "suggest": shipyard_suggest,
        }
