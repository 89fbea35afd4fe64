"""The readiness judge every role ends with: which workloads are not rolled out and ready, and why."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("shipyard_workloads", ROOT / "plugins/filter/workloads.py")
workloads = importlib.util.module_from_spec(spec)
spec.loader.exec_module(workloads)
unready, unready_results = workloads.shipyard_unready, workloads.shipyard_unready_results
applied_objects = workloads.shipyard_applied_objects
needs_read = workloads.shipyard_needs_read


def obj(name: str, status: dict, replicas: int = 1, generation: int = 2, kind: str | None = None) -> dict:
    found = {
        "metadata": {"name": name, "namespace": "ns", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": generation, **status},
    }
    return {"kind": kind, **found} if kind else found


def test_ready_workloads_pass() -> None:
    deploy = obj("app", {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}, replicas=2)
    sts = obj("db", {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "currentRevision": "a",
                     "updateRevision": "a"})  # fmt: skip
    ds = obj("agent", {"desiredNumberScheduled": 2, "numberReady": 2, "updatedNumberScheduled": 2})
    assert unready([deploy], "Deployment") == []
    assert unready([sts], "StatefulSet") == []
    assert unready([ds], "DaemonSet") == []
    assert unready([], "Deployment") == []


def test_each_unready_workload_is_named_with_its_counts() -> None:
    pending = obj("grafana", {"replicas": 1, "updatedReplicas": 1, "availableReplicas": 0})
    assert unready([pending], "Deployment") == ["Deployment ns/grafana: 0/1 ready, 1 updated"]
    rolling = obj("app", {"replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}, replicas=2)
    assert unready([rolling], "Deployment") == ["Deployment ns/app: 2/2 ready, 2 updated, 1 old still running"]
    sts = obj("es", {"replicas": 1, "updatedReplicas": 0, "readyReplicas": 1, "currentRevision": "a",
                     "updateRevision": "b"})  # fmt: skip
    assert unready([sts], "StatefulSet") == ["StatefulSet ns/es: 1/1 ready, 0 updated"]
    ds = obj("agent", {"desiredNumberScheduled": 2, "numberReady": 1, "updatedNumberScheduled": 2,
                       "numberUnavailable": 1})  # fmt: skip
    assert unready([ds], "DaemonSet") == ["DaemonSet ns/agent: 1/2 ready, 2 updated"]


def test_a_change_the_controller_has_not_seen_is_not_ready() -> None:
    stale = obj("app", {"replicas": 1, "updatedReplicas": 1, "availableReplicas": 1})
    stale["status"]["observedGeneration"] = 1
    assert unready([stale], "Deployment") == ["Deployment ns/app: its controller has not yet seen the latest change"]


def test_a_kind_the_object_carries_wins_and_other_kinds_pass() -> None:
    pending = obj("grafana", {"availableReplicas": 0}, kind="Deployment")
    assert unready([pending]) == ["Deployment ns/grafana: 0/1 ready, 0 updated"]
    assert unready([obj("x", {}, kind="ConfigMap")]) == []


def test_loop_results_are_judged_by_their_item_kind() -> None:
    results = [
        {"item": {"kind": "StatefulSet"}, "resources": [obj("prometheus", {"readyReplicas": 0})]},
        {"item": {"kind": "Deployment"}, "resources": []},
        {"item": {"kind": "Deployment"}, "skipped": True},
    ]
    assert unready_results(results) == ["StatefulSet ns/prometheus: 0/1 ready, 0 updated"]


def test_the_objects_an_apply_returned_are_taken_in_order() -> None:
    # kubernetes.core.k8s answers one definition with the object itself, several with a list.
    deploy = obj("app", {"availableReplicas": 1}, kind="Deployment")
    config = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}}
    sts = obj("db", {"readyReplicas": 1}, kind="StatefulSet")
    one = {"changed": False, "method": "apply", "result": sts}
    several = {"changed": False, "result": {"results": [{"changed": False, "result": config},
                                                        {"changed": False, "result": deploy}]}}  # fmt: skip
    assert applied_objects([one, several]) == [sts, config, deploy]


def test_an_apply_a_condition_skipped_adds_nothing_and_one_that_did_not_run_makes_the_caller_read() -> None:
    sts = obj("db", {"readyReplicas": 1}, kind="StatefulSet")
    assert applied_objects([{"skipped": True, "changed": False}, {"result": sts}]) == [sts]
    # A tag left the task out: its variable is undefined, passed as none.
    assert applied_objects([None, {"result": sts}]) is None
    assert applied_objects([]) == []


def test_a_workload_an_apply_just_changed_is_not_ready_until_its_controller_saw_it() -> None:
    # The API server answers a changed template with the new generation and the old status.
    changed = obj("app", {"replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}, kind="Deployment")
    changed["metadata"]["generation"] = 3
    assert unready(applied_objects([{"changed": True, "result": changed}])) == [
        "Deployment ns/app: its controller has not yet seen the latest change"
    ]


def test_the_check_reads_only_what_the_applies_did_not_show_ready() -> None:
    ready = obj("db", {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1}, kind="StatefulSet")
    pending = obj("grafana", {"replicas": 1, "updatedReplicas": 1, "availableReplicas": 0}, kind="Deployment")
    config = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}}
    # An apply that did not run in this run (none): read.
    assert needs_read(None) is True
    assert needs_read(None, "StatefulSet", "ns") is True
    # Every workload the applies returned is rolled out and ready (a rerun that changed nothing): no read.
    assert needs_read([ready, config]) is False
    assert needs_read([]) is False
    # One is not: read, but only its kind in its namespace.
    assert needs_read([ready, pending]) is True
    assert needs_read([ready, pending], "Deployment", "ns") is True
    assert needs_read([ready, pending], "StatefulSet", "ns") is False
    assert needs_read([ready, pending], "Deployment", "other") is False
