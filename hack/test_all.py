#!/usr/bin/env python3
"""`make test`: every check, offline, each job timed, all jobs even when one fails,
then one summary line. Arguments: the Molecule scenarios.

Jobs run on SHIPYARD_TEST_WORKERS workers (default 3 on this 2-core machine:
the real-pods job waits on pods more than it computes), each as soon as the jobs
it needs have passed: the Go builds the local cluster needs (its binaries, the
tools its images carry) take minutes on a cold machine and need nothing, so they
start at once, and everything that does not need them runs meanwhile; while one
runs, at most BUILD_WORKERS jobs run (a build uses every core). The builds that
only some jobs need (kind, helm, cyclonus) wait for them, off the longest path.
A light job takes no worker: the virtualenv, the Docker engine and the base
images, short steps that wait on downloads and that the other jobs wait for, run
beside the builds from the start. Every other job that is not on the longest
path (the local cluster's builds and images, `make up`, real-pods) runs niced
(SHIPYARD_TEST_NICE, default 10), its session's autogroup with it: it takes the
cycles the longest path leaves (command()). Each job's output goes to
.cache/test-logs/<job>.log; a failed job's tail is printed. A stopped run
(Ctrl-C, SIGTERM) ends every process of its running jobs, then removes what
the stopped scenarios made (their destroy: stop_run()). Standard library
only: it runs before the virtualenv exists.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / ".cache" / "test-logs"
TAIL = 80
# Lines that name what failed: pytest's short summary and Ansible's failed tasks.
# A job's tail alone can be all teardown (real-pods removes the cluster last).
NAMED = re.compile(
    r"^(FAILED|ERROR) (?!- RETRYING)"  # pytest's FAILED/ERROR lines, not Ansible's retries
    r"|^[= ]*\d+ (failed|errors?)\b|^=+ .*\b\d+ (failed|errors?)\b"  # pytest's count line
    r"|^(fatal|failed): \["  # Ansible's failed tasks
)
NAMED_MAX = 40
BUILDS = ("cluster-build", "cluster-tools")  # the Go builds the local cluster needs: the longest path's
BUILD_WORKERS = 2
# Each job's processes carry MARK=<this run>/<job> in their environment, also those that leave the job's
# process group (kwokctl's control planes daemonize), so that a stopped run can find and end them.
MARK = "SHIPYARD_TEST_JOB"
RUN = f"{os.getpid()}.{time.time_ns()}"
STOP_GRACE = 10.0  # seconds a stopped job's processes get to end on SIGTERM before SIGKILL
UNDO_TIMEOUT = 180.0  # seconds a stopped job's undo (a scenario's destroy) gets before it is given up


def setting(name: str, default: int, low: int, high: int) -> int:
    """A whole number from the environment, or the run ends naming the variable and the rule."""
    value = os.environ.get(name, "").strip() or str(default)
    if not re.fullmatch(r"[0-9]+", value) or not low <= int(value) <= high:
        raise SystemExit(f"test_all: {name} must be a whole number from {low} to {high}, not {value!r}")
    return int(value)


# How much the jobs off the longest path yield to those on it (the local cluster's builds, `make up`,
# real-pods: a run is never shorter than they are): their nice, 0 for none.
YIELD_NICE = setting("SHIPYARD_TEST_NICE", 10, 0, 19)


@dataclass
class Job:
    name: str
    argv: list[str]
    needs: tuple[str, ...] = ()
    light: bool = False  # takes no worker: short, mostly downloads, and the other jobs wait for it
    longest: bool = False  # on the longest path: keeps the machine's priority, the other jobs yield to it
    undo: list[str] | None = None  # run when the job is stopped mid-way: removes what it leaves (containers)
    rc: int | None = None
    took: int = 0
    cpu: float = 0.0  # user + system seconds of the job's own processes (not of the containers it starts)
    note: str = ""
    proc: subprocess.Popen | None = field(default=None, repr=False)
    started: float = 0.0
    ended: float = 0.0

    @property
    def log(self) -> Path:
        return LOGS / (self.name.replace(" ", "-") + ".log")

    @property
    def mark(self) -> str:
        return f"{RUN}/{self.name}"


def make(*targets: str, **variables: str) -> list[str]:
    return ["make", "--no-print-directory", *targets, *(f"{k}={v}" for k, v in variables.items())]


def scenario(name: str, needs: tuple[str, ...]) -> Job:
    """A Molecule scenario's job; stopped mid-way, its destroy removes the hosts and the cluster it made."""
    return Job(f"molecule {name}", make("molecule", SCENARIO=name), needs, undo=make("molecule-destroy", SCENARIO=name))


def jobs_for(scenarios: list[str], keep_cluster: bool) -> list[Job]:
    """In priority order: a free worker takes the first job whose needs have passed.

    The local cluster (a real node, about 1.5 GB and some CPU) is removed as soon
    as its tests are done, unless it was running before this run."""
    setup = ("setup",)  # the virtualenv: every job but the builds of binaries and images
    images = ("setup", "base-images")  # every job but the Go builds and lint runs containers or builds on them
    sandbox = ("cluster-build", *images)
    # kind, helm (the tools' roles' scenarios install them) and cyclonus (the scan's reachability):
    # built after the cluster's builds, off the longest path, by the same targets a user runs.
    more = ("more-builds",)
    # The longest first, so that the last to start are short (walls inside make test: site 189-268 s,
    # remote 101-112, app_deploy 66-114, logging 64-105, monitoring 75-91; the rest 49-81).
    by_length = ["site", "remote", "app_deploy", "logging", "monitoring"]
    molecule = sorted(scenarios, key=lambda s: (by_length.index(s) if s in by_length else len(by_length), s))
    offline = [s for s in molecule if s in ("container_runtime", "image_build")]  # need no Go binary
    with_tools = ("kind_cluster", "k8s_tools", "remote")  # need kind and helm
    return [
        Job("cluster-build", make("cluster-build"), longest=True),
        Job("cluster-tools", make("cluster-tools"), longest=True),
        Job("setup", make("setup"), light=True),
        Job("docker-engine", make("docker"), light=True),
        Job("base-images", make("images"), ("docker-engine",), light=True),
        # The node's and the stand-ins' images need the tools' build, not the control
        # plane's: on a cold machine they are built beside it, off the longest path.
        Job("cluster-images", make("cluster-images"), ("cluster-tools", "base-images"), longest=True),
        # The local cluster with its real node: the site converged by `make up`,
        # then proven on running containers; a chain of two jobs and the longest
        # path, so it starts first: on a cold machine the worker that finishes the
        # last Go build takes it, and the real-pods job goes ahead of the site's scenario.
        Job("make up", make("up"), ("setup", "cluster-build", "cluster-images"), longest=True),
        Job(
            "real-pods",
            make("real-pods-test")
            if keep_cluster
            else [
                "sh",
                "-c",
                # The user's way out, twice: the second run must find nothing and succeed.
                # (Not `tee /dev/stderr`: reopening the job's log through it truncated the log.)
                "make --no-print-directory real-pods-test; rc=$?; "
                "make --no-print-directory down || rc=1; "
                'out=$(make --no-print-directory down 2>&1); echo "$out"; '
                "echo \"$out\" | grep -q 'nothing to remove' || rc=1; exit $rc",
            ],
            ("make up",),
            longest=True,
        ),
        # Two tenants on a second local cluster of their own, beside the real-pods job (which stops and
        # restarts its cluster's parts): after `make up`, which built the app's image both load.
        Job("tenants", make("tenants-test"), ("make up",), undo=["hack/tenants_test.sh", "remove"]),
        *[scenario(s, sandbox) for s in molecule if s == "site"],
        Job("lint", make("lint"), setup),
        Job("unit", make("unit"), images),
        Job("app-tests", make("app-test"), images),
        Job("logging-tests", make("logging-test"), images),
        *[scenario(s, images) for s in offline],
        # After the cluster's build, so that it does not take the cores from it; before what needs it.
        Job("more-builds", make("sandbox-build", "tools"), ("cluster-build", "cluster-tools")),
        Job("manifest-scan", make("scan"), (*more, *images)),
        Job("monitoring-tests", make("monitoring-test"), ("cluster-tools", *images)),
        Job("sandbox-tests", [".venv/bin/pytest", "-q", "tests/sandbox"], sandbox),
        *[
            scenario(s, (*sandbox, *more) if s in with_tools else sandbox)
            for s in molecule
            if s != "site" and s not in offline
        ],
    ]


def reap(job: Job) -> bool:
    """Whether the job's process has ended; if so its exit code, CPU time and end are kept.

    os.wait4 rather than Popen.poll: it also returns the CPU time of the process
    and of every descendant it waited for (make, pytest, ansible-playbook, molecule)."""
    if job.proc is None:
        raise ValueError(f"{job.name} was not started")
    pid, status, usage = os.wait4(job.proc.pid, os.WNOHANG)
    if pid == 0:
        return False
    job.proc.returncode = job.rc = os.waitstatus_to_exitcode(status)
    job.cpu = usage.ru_utime + usage.ru_stime
    job.ended = time.monotonic()
    job.took = round(job.ended - job.started)
    return True


def cpu_busy() -> tuple[float, float]:
    """The machine's busy and total CPU seconds since boot, summed over its cores (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return (sum(fields) - idle) / tick, sum(fields) / tick


def report(job: Job) -> None:
    if job.rc == 0:
        print(f"PASS  {job.took:>4}s  {job.name} (cpu {job.cpu:.0f} s)", flush=True)
        return
    print(f"FAIL  {job.took:>4}s  {job.name} ({job.note or f'exit {job.rc}'}); log: {job.log.relative_to(ROOT)}")
    if job.log.is_file():
        lines = job.log.read_text(errors="replace").splitlines()
        named = [line for line in lines if NAMED.search(line)]
        if named:
            print(f"---- what the log names as failed ({min(NAMED_MAX, len(named))} of {len(named)}) ----")
            print("\n".join(named[:NAMED_MAX]))
        print(f"---- last {min(TAIL, len(lines))} lines of {job.name} ----")
        print("\n".join(lines[-TAIL:]))
        print("----", flush=True)


def slots(running: list[Job], workers: int) -> int:
    """How many jobs may run now: every worker, but at most BUILD_WORKERS while a Go build runs."""
    return min(workers, BUILD_WORKERS) if any(j.name in BUILDS for j in running) else workers


def startable(pending: list[Job], running: list[Job], workers: int, by_name: dict[str, Job]) -> Job | None:
    """The first pending job whose needs have passed and that a worker is free for (a light job needs none)."""
    free = len([j for j in running if not j.light]) < slots(running, workers)
    return next(
        (j for j in pending if (free or j.light) and all(by_name[n].rc == 0 for n in j.needs if n in by_name)),
        None,
    )


def command(job: Job) -> list[str]:
    """The job's command; off the longest path, niced first (YIELD_NICE), its session's autogroup with it.

    Each job runs in a session of its own, and with autogroups (kernel.sched_autogroup_enabled) the kernel
    weighs each session's group alike whatever its processes' nice: the nice that counts is the group's,
    written by the job's own first process before its command runs. Without autogroups the processes'
    nice does it. The kernel still gives a niced job every cycle the longest path leaves unused."""
    if job.longest or job.light or YIELD_NICE == 0:
        return job.argv
    first = f'{{ echo {YIELD_NICE} >/proc/self/autogroup; }} 2>/dev/null; exec nice -n {YIELD_NICE} "$@"'
    return ["sh", "-c", first, "sh", *job.argv]


def launch(job: Job) -> None:
    """Start the job in a session of its own, its output to its log, its mark in its environment."""
    job.started = time.monotonic()
    with job.log.open("w") as log:
        job.proc = subprocess.Popen(
            command(job),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, MARK: job.mark},
        )


def marked(marks: set[str]) -> list[int]:
    """The PIDs of the processes whose environment carries one of marks (as they were started)."""
    wanted = {f"{MARK}={mark}".encode() for mark in marks}
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environment = (entry / "environ").read_bytes().split(b"\0")
            except OSError:  # gone, or not ours to read
                continue
            if wanted.intersection(environment):
                pids.append(int(entry.name))
    return pids


def stop_jobs(jobs: list[Job], grace: float = STOP_GRACE) -> list[int]:
    """End the jobs still running and every process they started, also those outside their process group.

    SIGTERM to each one's group and to each process outside it carrying its mark; SIGKILL to what is
    left after grace seconds. A job that has ended keeps what it started on purpose (the Docker engine's
    job starts the daemon). Returns the PIDs killed with SIGKILL."""
    running = {job.mark: job for job in jobs if job.proc is not None and job.proc.poll() is None}
    for job in running.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.proc.pid, signal.SIGTERM)
    # The groups' members have had their SIGTERM: a second one could cut their own cleanup short.
    groups, deadline, signalled = {job.proc.pid for job in running.values()}, time.monotonic() + grace, set()
    while (left := marked(set(running))) and time.monotonic() < deadline:
        for pid in set(left) - signalled:
            with contextlib.suppress(ProcessLookupError):
                if os.getpgid(pid) not in groups:
                    os.kill(pid, signal.SIGTERM)
        signalled.update(left)
        time.sleep(0.2)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def undo_stopped(stopped: list[Job], timeout: float = UNDO_TIMEOUT) -> list[str]:
    """Run the undo of each stopped job that has one, all at once, each in a session of its own (a second
    Ctrl-C ends this run, not them), its output added to the job's log. Returns the names of those whose
    undo failed or did not end in time (it is then killed)."""
    undoing = []
    for job in (j for j in stopped if j.undo):
        with job.log.open("a") as log:
            log.write(f"\n==> stopped; removing what it made: {' '.join(job.undo)}\n")
            log.flush()
            undoing.append((job, subprocess.Popen(job.undo, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                                  start_new_session=True)))  # fmt: skip
    deadline, failed = time.monotonic() + timeout, []
    for job, proc in undoing:
        try:
            rc = proc.wait(timeout=max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:  # given up: it ends here, not after this run
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
        if rc != 0:
            failed.append(job.name)
    return failed


def stop_run(jobs: list[Job]) -> None:
    """A stopped run (SIGINT, SIGTERM): every running job ends, then what the stopped ones made is removed."""
    stopped = [job for job in jobs if job.proc is not None and job.proc.poll() is None]
    killed = stop_jobs(jobs)
    if killed:
        print(f"==> stopped; {len(killed)} processes did not end on SIGTERM and were killed", flush=True)
    for job in stopped:  # each undo starts once its job's own process has ended
        with contextlib.suppress(subprocess.TimeoutExpired):
            job.proc.wait(timeout=STOP_GRACE)
    undone = [job.name for job in stopped if job.undo]
    if undone:
        print(f"==> stopped; removing what {', '.join(undone)} made (Ctrl-C again to leave it)", flush=True)
        failed = undo_stopped(stopped)
        for name in failed:
            print(f"==> {name}: not all removed; see its log", flush=True)


def schedule(jobs: list[Job], workers: int) -> None:
    pending, running = list(jobs), []
    by_name = {j.name: j for j in jobs}
    while pending or running:
        for job in list(pending):
            failed = [n for n in job.needs if n in by_name and by_name[n].rc not in (None, 0)]
            if failed:
                pending.remove(job)
                job.rc, job.note = 1, f"not run: {', '.join(failed)} failed"
                report(job)
        while (ready := startable(pending, running, workers, by_name)) is not None:
            pending.remove(ready)
            print(f"  >>  start {ready.name}", flush=True)
            launch(ready)
            running.append(ready)
        time.sleep(1)
        for job in list(running):
            if job.proc is not None and reap(job):
                running.remove(job)
                report(job)


def sandbox_answers() -> bool:
    kubectl, kubeconfig = ROOT / ".sandbox/bin/kubectl", ROOT / ".sandbox/kubeconfig"
    if not (kubectl.exists() and kubeconfig.exists()):
        return False
    probe = [str(kubectl), "--kubeconfig", str(kubeconfig), "get", "--raw", "/readyz", "--request-timeout=3s"]
    return subprocess.call(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def main() -> int:
    os.chdir(ROOT)
    workers = setting("SHIPYARD_TEST_WORKERS", 3, 1, 64)
    total, busy = time.monotonic(), cpu_busy()
    # Leave the machine as we found it: remove the local cluster only if this run started it.
    sandbox_was_up = sandbox_answers()
    jobs = jobs_for(sys.argv[1:], keep_cluster=sandbox_was_up)

    def stop(*_: object) -> None:
        for number in (signal.SIGINT, signal.SIGTERM):  # a second one ends this run at once
            signal.signal(number, signal.SIG_DFL)
        stop_run(jobs)
        raise SystemExit(130)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        LOGS.mkdir(parents=True, exist_ok=True)
        print(f"==> {len(jobs)} jobs on {workers} workers (logs in {LOGS.relative_to(ROOT)}/)", flush=True)
        schedule(jobs, workers)
    finally:
        if not sandbox_was_up:
            subprocess.call(["hack/cluster/down.sh"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    passed = sum(1 for j in jobs if j.rc == 0)
    wall, (used, elapsed) = time.monotonic() - total, (b - a for a, b in zip(busy, cpu_busy(), strict=True))
    print(f"\n==> summary ({round(wall)}s in all, {workers} workers)")
    print("  status  wall   cpu  job (cpu: user + system seconds of the job's own processes)")
    for job in jobs:
        status = "PASS" if job.rc == 0 else "FAIL"
        line = f"  {status}  {job.took:>5}s {job.cpu:>5.0f}s  {job.name}"
        print(line + ("" if job.rc == 0 else f" ({job.note or f'exit {job.rc}'})"))
    own = sum(j.cpu for j in jobs)
    print(
        f"cpu: the machine was {100 * used / elapsed:.0f} % busy ({used:.0f} of {elapsed:.0f} core-seconds); "
        f"the jobs' own processes {own:.0f} s, the rest ({max(used - own, 0):.0f} s) ran outside their process "
        "trees: the clusters and containers they started (the local cluster's node, the scenarios' control planes, "
        "Molecule's hosts) and the Docker engine"
    )
    print(f"stages: {passed} passed, {len(jobs) - passed} failed")
    return 0 if passed == len(jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
