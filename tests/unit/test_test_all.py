"""`make test`'s report of a failed job names what failed even when the job's tail does not.

The real-pods job removes the cluster after its tests, so its last 80 lines are
teardown: a CI run once failed there and its report showed no test name.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def test_all(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("test_all_under_test", ROOT / "hack" / "test_all.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "LOGS", tmp_path / "logs")
    (tmp_path / "logs").mkdir()
    return module


def test_a_failed_jobs_report_names_the_failed_test_above_a_teardown_tail(test_all, capsys):
    job = test_all.Job("real-pods", ["true"], rc=2, took=1765)
    teardown = [f"TASK [teardown step {n}] skipping: [localhost]" for n in range(200)]
    job.log.write_text(
        "\n".join(
            [
                "tests/cluster/test_app.py ....F....",
                "FAILED - RETRYING: [localhost]: Gone | Read the namespaces (118 retries left).",
                "FAILED tests/cluster/test_app.py::test_rollout - AssertionError: not ready after 120 s",
                "1 failed, 52 passed in 1441.20s (0:24:01)",
                'fatal: [localhost]: FAILED! => {"msg": "the Deployment is not ready"}',
                *teardown,
            ]
        )
    )
    test_all.report(job)
    out = capsys.readouterr().out
    named, tail = out.split("---- last 80 lines of real-pods ----")
    assert "FAIL  1765s  real-pods (exit 2)" in named
    assert "FAILED tests/cluster/test_app.py::test_rollout - AssertionError" in named
    assert "1 failed, 52 passed" in named
    assert "fatal: [localhost]: FAILED!" in named
    assert "test_rollout" not in tail
    assert "RETRYING" not in out  # Ansible's retries are not failures
    assert "teardown step 199" in tail


def test_a_passed_or_quiet_job_prints_no_failure_section(test_all, capsys):
    passed = test_all.Job("lint", ["true"], rc=0, took=3)
    test_all.report(passed)
    quiet = test_all.Job("unit", ["true"], rc=1, took=3)
    quiet.log.write_text("ok: [localhost]\n53 passed in 12s\n")
    test_all.report(quiet)
    out = capsys.readouterr().out
    assert out.startswith("PASS     3s  lint (cpu 0 s)")
    assert "what the log names as failed" not in out
    assert "---- last 2 lines of unit ----" in out


def test_on_a_cold_machine_the_real_pods_chain_starts_before_the_sites_scenario(test_all, capsys, monkeypatch):
    """The chain `make up`, real-pods is the longest path of a cold run: the worker
    that finishes the last Go build takes it, not the site's scenario, which
    needs the same build and used to be taken first (about 250 s later)."""
    monkeypatch.setattr(test_all, "time", _QuickTicks())  # the scheduler looks every 0.05 s, not every second
    jobs = test_all.jobs_for(["site", "hardening", "image_build"], keep_cluster=False)
    took = {"cluster-build": "0.6", "cluster-tools": "0.2", "lint": "2"}  # lint keeps the other worker busy
    for job in jobs:
        job.argv = ["sleep", took.get(job.name, "0")]
    test_all.schedule(jobs, workers=2)
    started = [line.split("start ", 1)[1] for line in capsys.readouterr().out.splitlines() if ">>  start " in line]
    assert started[:4] == ["cluster-build", "cluster-tools", "setup", "docker-engine"]
    assert started.index("base-images") < started.index("cluster-images") < started.index("lint")
    assert started.index("make up") < started.index("real-pods") < started.index("molecule site"), started
    assert all(job.rc == 0 for job in jobs)


def test_each_job_reports_the_cpu_time_of_its_processes_and_their_children(test_all, capsys, monkeypatch):
    """The CPU a job used, not its wall time, says what two cores can run at once:
    a job that waits takes its time but leaves the cores to the other worker."""
    monkeypatch.setattr(test_all, "time", _QuickTicks())
    burn = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass"
    jobs = [
        test_all.Job("busy", ["sh", "-c", f"python3 -c '{burn}' && exit 3"]),  # the CPU is the grandchild's
        test_all.Job("waits", ["sleep", "0.6"]),
    ]
    test_all.schedule(jobs, workers=2)
    busy, waits = jobs
    assert busy.rc == 3 and waits.rc == 0
    assert 0.55 <= busy.cpu < 2, busy.cpu
    assert waits.cpu < 0.1, waits.cpu
    assert "s  waits (cpu 0 s)" in capsys.readouterr().out


def test_a_third_worker_waits_while_a_go_build_runs(test_all, capsys, monkeypatch):
    """Three workers by default, but a Go build uses every core: beside one, at most two jobs run,
    so a cold run's builds (on its longest path) go as fast as they did on two workers."""
    monkeypatch.setattr(test_all, "time", _QuickTicks())
    jobs = test_all.jobs_for(["site", "hardening", "image_build"], keep_cluster=False)
    took = {"cluster-build": "1.2", "cluster-tools": "0.3", "lint": "1", "unit": "1", "app-tests": "1"}
    for job in jobs:
        job.argv = ["sleep", took.get(job.name, "0.1")]
    test_all.schedule(jobs, workers=3)
    by_name = {job.name: job for job in jobs}
    build, tools = by_name["cluster-build"], by_name["cluster-tools"]
    during = [j.name for j in jobs if not j.light and j.name not in test_all.BUILDS and j.started < build.ended]
    assert during == ["cluster-images", "lint"], during  # one at a time in the one slot tools left, not two
    assert by_name["cluster-images"].started >= tools.ended
    assert by_name["lint"].started >= by_name["cluster-images"].ended
    assert max(_heavy_at_once(jobs, until=build.ended)) == test_all.BUILD_WORKERS
    after = sorted((j for j in jobs if j.started >= build.ended), key=lambda j: j.started)
    assert [j.name for j in after[:2]] == ["make up", "molecule site"]  # then three at once
    assert after[1].started < by_name["lint"].ended
    assert all(job.rc == 0 for job in jobs)


def test_on_a_cold_machine_the_images_build_beside_the_go_builds(test_all, capsys, monkeypatch):
    """The virtualenv, the engine and the base images (debootstrap: downloads and unpacking) run
    beside both Go builds instead of before them, and the cluster's images start when the tools'
    build is done, beside the control plane's: `make up` then only creates the cluster. Without
    the light flag the base images would wait for a build to end (checked: this test fails with
    `light=False` on them)."""
    monkeypatch.setattr(test_all, "time", _QuickTicks())
    jobs = test_all.jobs_for(["site", "hardening"], keep_cluster=False)
    took = {"cluster-build": "1.5", "cluster-tools": "0.5", "setup": "0.2", "base-images": "0.4"}
    took["cluster-images"] = "0.4"
    for job in jobs:
        job.argv = ["sleep", took.get(job.name, "0.1")]
    test_all.schedule(jobs, workers=3)
    by_name = {job.name: job for job in jobs}
    names = ("cluster-build", "cluster-tools", "base-images", "cluster-images")
    build, tools, base, cluster = (by_name[n] for n in names)
    assert by_name["setup"].started < tools.ended and by_name["docker-engine"].started < tools.ended
    assert base.started < tools.ended and base.started < build.ended  # beside both builds
    assert tools.ended <= cluster.started < build.ended  # the cluster's images beside the control plane's build
    assert cluster.ended < build.ended
    assert by_name["make up"].started >= build.ended
    assert max(_heavy_at_once(jobs, until=build.ended)) == test_all.BUILD_WORKERS  # the builds keep their cores
    assert all(job.rc == 0 for job in jobs)


def test_the_builds_only_some_jobs_need_wait_for_the_clusters_and_go_before_those_jobs(test_all, monkeypatch):
    """kind, helm and cyclonus (about 220 s of CPU cold) are built by `more-builds` once the local
    cluster's builds are done, so that they take no core from the longest path; the scenarios that
    install kind and helm and the scan that runs cyclonus wait for them, the other jobs do not."""
    monkeypatch.setattr(test_all, "time", _QuickTicks())
    scenarios = ["site", "hardening", "image_build", "kind_cluster", "k8s_tools", "remote"]
    jobs = test_all.jobs_for(scenarios, keep_cluster=False)
    took = {"cluster-build": "2.0", "cluster-tools": "0.3", "more-builds": "0.6"}  # the others end before the build
    for job in jobs:
        job.argv = ["sleep", took.get(job.name, "0.1")]
    test_all.schedule(jobs, workers=3)
    by_name = {job.name: job for job in jobs}
    build, tools, more = (by_name[n] for n in ("cluster-build", "cluster-tools", "more-builds"))
    assert more.started >= max(build.ended, tools.ended)
    assert by_name["make up"].started <= more.started  # the longest path goes first
    users = ["manifest-scan", "molecule kind_cluster", "molecule k8s_tools", "molecule remote"]
    assert all(by_name[n].started >= more.ended for n in users), {n: by_name[n].started - more.ended for n in users}
    need_more = {job.name for job in jobs if "more-builds" in job.needs}
    assert need_more == set(users), need_more
    assert all(job.rc == 0 for job in jobs)


def test_the_jobs_off_the_longest_path_yield_to_it(test_all, monkeypatch):
    """A run is never shorter than its longest path (the local cluster's builds and images, `make up`,
    real-pods), so every other job that takes a worker runs niced, and so does its session's autogroup:
    with autogroups the kernel weighs each session's group alike whatever its processes' nice. Each job
    prints what it runs with, as its own command."""
    monkeypatch.setattr(test_all, "time", _QuickTicks())
    monkeypatch.setattr(test_all, "YIELD_NICE", 7)  # whatever SHIPYARD_TEST_NICE the caller runs with
    jobs = test_all.jobs_for(["site", "image_build"], keep_cluster=False)
    for job in jobs:
        job.argv = ["sh", "-c", "cat /proc/self/autogroup 2>/dev/null; nice"]  # "/autogroup-N nice K", the nice
    test_all.schedule(jobs, workers=3)
    assert all(job.rc == 0 for job in jobs)
    autogroups = Path("/proc/self/autogroup").is_file()
    base = os.nice(0)
    niced = min(19, base + test_all.YIELD_NICE)
    seen = {}
    for job in jobs:
        out = job.log.read_text()
        group = re.search(r"/autogroup-\d+ nice (-?\d+)", out)
        assert bool(group) == autogroups, out
        seen[job.name] = (int(group[1]) if group else None, int(out.split()[-1]))
    first = {"cluster-build", "cluster-tools", "cluster-images", "make up", "real-pods"}
    light = {"setup", "docker-engine", "base-images"}
    assert {job.name for job in jobs if job.longest} == first
    for name, (group, nice) in seen.items():
        if name in first | light:
            assert (group, nice) == (0 if autogroups else None, base), (name, seen[name])
        else:
            assert (group, nice) == (test_all.YIELD_NICE if autogroups else None, niced), (name, seen[name])
    monkeypatch.setattr(test_all, "YIELD_NICE", 0)
    assert [test_all.command(job) for job in jobs] == [job.argv for job in jobs]


def test_make_up_builds_only_what_the_clusters_run(tmp_path):
    """`make up` (through `make cluster-build`) needs the control plane, the node's binaries, etcd,
    kwok and kubectl, not kind or helm: with only those in the binaries' folder it starts no Go build,
    while `make sandbox-build` (every binary) starts one for kind. The `go` on PATH is a stand-in
    that logs its arguments and fails, so no real build runs wherever Go is installed."""
    bins, tools = tmp_path / "bin", tmp_path / "tools"
    bins.mkdir()
    tools.mkdir()
    cluster = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet", "kube-proxy",
               "etcd", "kwok", "kwokctl"]  # fmt: skip
    for name in cluster:
        (bins / name).write_text("#!/bin/sh\n")
        (bins / name).chmod(0o755)
    calls = tmp_path / "go-calls"
    (tools / "go").write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexit 1\n')
    (tools / "go").chmod(0o755)
    env = {"PATH": f"{tools}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path), "SANDBOX_BIN_DIR": str(bins)}

    def make(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, check=False, timeout=60)  # fmt: skip

    ready = make("cluster-build")
    assert ready.returncode == 0 and "binaries ready in" in ready.stderr, ready.stderr
    some = make("sandbox-build", "BINS=kubectl etcd")
    assert some.returncode == 0, some.stderr
    assert not calls.exists(), calls.read_text()
    every = make("sandbox-build")
    assert every.returncode != 0
    assert "ERROR: building kind v" in every.stderr, every.stderr  # the first one missing
    assert calls.read_text().startswith("mod init"), calls.read_text()
    unknown = make("sandbox-build", "BINS=kubectl kubeadm")
    assert unknown.returncode != 0
    assert "no binary 'kubeadm' is built here; one of: kube-apiserver" in unknown.stderr, unknown.stderr


def test_failed_base_images_stop_only_the_jobs_that_need_them(test_all, monkeypatch):
    ran, notes = _with_one_failing(test_all, monkeypatch, "base-images")
    assert ran == {"cluster-build", "cluster-tools", "setup", "docker-engine", "lint", "more-builds"}, ran
    assert notes["cluster-images"] == "not run: base-images failed"
    assert notes["make up"] == "not run: cluster-images failed"
    assert notes["real-pods"] == "not run: make up failed"
    assert notes["molecule image_build"] == "not run: base-images failed"


def test_a_failed_setup_stops_every_job_but_the_builds(test_all, monkeypatch):
    """Without the virtualenv nothing else can run; the builds of binaries and images, which
    need none, still fill their caches for the next run."""
    ran, notes = _with_one_failing(test_all, monkeypatch, "setup")
    builds = {"cluster-build", "cluster-tools", "more-builds"}
    assert ran == {*builds, "docker-engine", "base-images", "cluster-images"}, ran
    assert notes.pop("setup") == ""
    assert notes.pop("real-pods") == notes.pop("tenants") == "not run: make up failed"
    assert set(notes.values()) == {"not run: setup failed"}, notes


def test_a_stopped_run_ends_what_its_running_jobs_started_also_outside_their_process_group(test_all, tmp_path):
    """kwokctl daemonizes a scenario's control plane (etcd, the API server and the rest leave the job's
    process group): a `make test` stopped with SIGTERM used to leave them running. Now each process of a
    running job ends, on SIGTERM or, when it ignores that, SIGKILL after the grace time; what a job that
    has ended started stays, as the Docker engine its job starts must."""
    tag = f"{time.time_ns() % 10**6}"  # sleeps no other process on the machine runs
    kept, plain, stubborn, own = (f"sleep 9{n}{tag}" for n in range(4))
    ended = test_all.Job("docker-engine", ["sh", "-c", f"setsid -f {kept}"])
    ignores_term = f"setsid -f sh -c 'trap \"\" TERM; exec {stubborn}'"
    running = test_all.Job("molecule site", ["sh", "-c", f"setsid -f {plain}; {ignores_term}; exec {own}"])
    try:
        test_all.launch(ended)
        ended.proc.wait()
        test_all.launch(running)
        deadline = time.monotonic() + 10
        while not all(_pids(c) for c in (kept, plain, stubborn, own)) and time.monotonic() < deadline:
            time.sleep(0.1)
        started = {c: _pids(c) for c in (kept, plain, stubborn, own)}
        assert all(started.values()), started
        assert os.getsid(started[plain][0]) != os.getsid(running.proc.pid)  # outside the job's session
        killed = test_all.stop_jobs([ended, running], grace=1.0)
        assert killed == started[stubborn]  # the one that ignores SIGTERM
        assert running.proc.wait(timeout=5) == -signal.SIGTERM
        deadline = time.monotonic() + 5
        while any(_pids(c) for c in (plain, stubborn, own)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {c: _pids(c) for c in (plain, stubborn, own)} == {plain: [], stubborn: [], own: []}
        assert _pids(kept) == started[kept]
    finally:
        for command in (kept, plain, stubborn, own):
            subprocess.run(["pkill", "-KILL", "-fx", command], check=False)


def _pids(command: str) -> list[int]:
    found = subprocess.run(["pgrep", "-fx", command], capture_output=True, text=True, check=False).stdout
    return [int(pid) for pid in found.split()]


def _with_one_failing(test_all, monkeypatch, failing: str) -> tuple[set[str], dict[str, str]]:
    """Every job of a run with the site's and image_build's scenarios passes but one: which ran, and
    each other job's note."""
    monkeypatch.setattr(test_all, "time", _QuickTicks())
    jobs = test_all.jobs_for(["site", "image_build"], keep_cluster=False)
    for job in jobs:
        job.argv = ["sh", "-c", "exit 1"] if job.name == failing else ["true"]
    test_all.schedule(jobs, workers=3)
    return {job.name for job in jobs if job.rc == 0}, {job.name: job.note for job in jobs if job.rc != 0}


def _heavy_at_once(jobs, until: float) -> list[int]:
    """At each start before `until`, how many jobs that take a worker were running."""
    heavy = [j for j in jobs if not j.light]
    return [sum(1 for o in heavy if o.started <= j.started < o.ended) for j in heavy if j.started < until]


class _QuickTicks:
    monotonic = staticmethod(time.monotonic)

    @staticmethod
    def sleep(_seconds: float) -> None:
        time.sleep(0.05)


def test_a_stopped_scenario_is_destroyed_and_a_finished_or_unstarted_one_is_not(test_all, tmp_path, capsys):
    """A `make test` stopped while Molecule's scenarios run used to leave their Docker hosts running (the
    systemd hosts with their own dockerd): the scenario's destroy never came. Now each job stopped mid-way
    runs its undo once it has ended; a job that ended or never started is left as it is."""
    undo = ["sh", "-c", 'echo "removed by $0" && : > "$0"']
    finished = test_all.Job("molecule image_build", ["true"], undo=[*undo, str(tmp_path / "finished")])
    stopped = test_all.Job("molecule hardening", ["sleep", "60"], undo=[*undo, str(tmp_path / "stopped")])
    unstarted = test_all.Job("molecule remote", ["true"], undo=[*undo, str(tmp_path / "unstarted")])
    test_all.launch(finished)
    assert finished.proc.wait(timeout=10) == 0
    test_all.launch(stopped)
    test_all.stop_run([finished, stopped, unstarted])
    assert stopped.proc.returncode == -signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["stopped"]
    log = stopped.log.read_text()
    assert "==> stopped; removing what it made: sh -c" in log and f"removed by {tmp_path / 'stopped'}" in log, log
    out = capsys.readouterr().out
    assert "removing what molecule hardening made" in out and "not all removed" not in out, out


def test_an_undo_that_fails_or_hangs_is_named(test_all, tmp_path):
    jobs = [
        test_all.Job("molecule logging", ["sleep", "60"], undo=["sh", "-c", "exit 3"]),
        test_all.Job("molecule monitoring", ["sleep", "60"], undo=["sleep", "60"]),
        test_all.Job("molecule site", ["sleep", "60"], undo=["true"]),
    ]
    for job in jobs:
        test_all.launch(job)
    test_all.stop_jobs(jobs)
    assert [job.proc.wait(timeout=5) for job in jobs] == [-signal.SIGTERM] * 3
    started = time.monotonic()
    assert test_all.undo_stopped(jobs, timeout=1.0) == ["molecule logging", "molecule monitoring"]
    assert time.monotonic() - started < 5
    assert "removing what it made: sleep 60" in jobs[1].log.read_text()


def test_each_scenario_and_the_tenants_cluster_are_undone_by_their_removal_and_no_other_job_is(test_all):
    """The tenants' job starts a cluster of its own: stopped, its removal runs (the default cluster is
    `make test`'s to keep or remove, as it found it)."""
    jobs = test_all.jobs_for(["site", "hardening", "remote", "image_build"], keep_cluster=False)
    undos = {job.name: job.undo for job in jobs if job.undo}
    assert undos == {
        "tenants": ["hack/tenants_test.sh", "remove"],
        **{
            f"molecule {s}": ["make", "--no-print-directory", "molecule-destroy", f"SCENARIO={s}"]
            for s in ("site", "hardening", "remote", "image_build")
        },
    }
    # --no-print-directory: under `make unit` this make is a sub-make, which names its directory last.
    dry = subprocess.run(["make", "-n", "--no-print-directory", "molecule-destroy", "SCENARIO=remote"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert dry.splitlines()[-1] == "molecule destroy -s remote", dry


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("SHIPYARD_TEST_NICE", "ten", "from 0 to 19"),
        ("SHIPYARD_TEST_NICE", "20", "from 0 to 19"),
        ("SHIPYARD_TEST_WORKERS", "0", "from 1 to 64"),
        ("SHIPYARD_TEST_WORKERS", "2.5", "from 1 to 64"),
    ],
)
def test_a_bad_setting_is_refused_naming_it_before_any_job_starts(name, value, rule):
    run = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "test_all.py"), "no_such_scenario"],
        env={**os.environ, name: value}, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert run.returncode == 1, run
    assert run.stderr.strip() == f"test_all: {name} must be a whole number {rule}, not {value!r}", run.stderr
    assert run.stdout == "", run.stdout
