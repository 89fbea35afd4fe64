"""Filters that judge workloads read from the cluster: which ones are not rolled out and ready."""

from __future__ import annotations

from typing import Any


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _unready_reason(obj: dict[str, Any], kind: str) -> str | None:
    """Why one Deployment, StatefulSet or DaemonSet is not rolled out and ready, or None when it is."""
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    if _int(status.get("observedGeneration")) < _int(meta.get("generation") or 1):
        return "its controller has not yet seen the latest change"
    if kind == "DaemonSet":
        want = _int(status.get("desiredNumberScheduled"))
        ready, updated = _int(status.get("numberReady")), _int(status.get("updatedNumberScheduled"))
        if ready < want or updated < want or _int(status.get("numberUnavailable")):
            return f"{ready}/{want} ready, {updated} updated"
        return None
    want = _int(spec.get("replicas", 1))
    ready = _int(status.get("availableReplicas" if kind == "Deployment" else "readyReplicas"))
    updated, total = _int(status.get("updatedReplicas")), _int(status.get("replicas"))
    if ready < want or updated < want or total > want:
        detail = f"{ready}/{want} ready, {updated} updated"
        if total > want:
            detail += f", {total - want} old still running"
        return detail
    return None


def shipyard_unready(resources: list[dict[str, Any]] | None, kind: str | None = None) -> list[str]:
    """`Kind namespace/name: why` for each workload in `resources` that is not rolled out and ready.

    `kind` names the kind of objects that do not say theirs (the items of a list read
    from the API server carry no kind).

    Deployments count available replicas (ready for minReadySeconds), StatefulSets ready
    ones, DaemonSets ready pods on every node that should run one; all must run the
    latest template, and nothing from an older one may be left over. Other kinds pass."""
    found = []
    for obj in resources or []:
        obj_kind = obj.get("kind") or kind
        if obj_kind not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        reason = _unready_reason(obj, obj_kind)
        if reason:
            meta = obj.get("metadata") or {}
            found.append(f"{obj_kind} {meta.get('namespace', '')}/{meta.get('name', '')}: {reason}")
    return found


def shipyard_unready_results(results: list[dict[str, Any]]) -> list[str]:
    """`shipyard_unready` over the results of a k8s_info task looped over `{kind, ...}` items."""
    return [
        line
        for result in results or []
        for line in shipyard_unready(result.get("resources"), (result.get("item") or {}).get("kind"))
    ]


def shipyard_applied_objects(registered: list[Any]) -> list[dict[str, Any]] | None:
    """The objects that the kubernetes.core.k8s applies registered in `registered` returned, in order.

    An apply answers with each object as the API server stored it, status included: a workload
    whose status there says rolled out and ready needs no read after it. None when any of them
    did not run in this run (undefined, as when a tag left its task out), so that the caller
    reads instead; an apply that a condition skipped returned nothing and adds nothing."""
    found: list[dict[str, Any]] = []
    for result in registered or []:
        if not isinstance(result, dict):
            return None
        if result.get("skipped"):
            continue
        # One definition answers with the object itself, several with {results: [{result: object}, ...]}.
        answer = result.get("result") or {}
        objects = [item.get("result") for item in answer["results"]] if "results" in answer else [answer]
        found += [obj for obj in objects if isinstance(obj, dict) and obj.get("kind")]
    return found


def shipyard_needs_read(
    applied: list[dict[str, Any]] | None, kind: str | None = None, namespace: str | None = None
) -> bool:
    """Whether the readiness check must read the workloads, given what the role's applies returned.

    True when the applies did not all run in this run (`applied` is None, from
    `shipyard_applied_objects`), or when a workload they returned (of `kind` in `namespace`, when
    given) is not rolled out and ready there; False when every one of them is."""
    if applied is None:
        return True
    chosen = [
        obj
        for obj in applied
        if (kind is None or obj.get("kind") == kind)
        and (namespace is None or (obj.get("metadata") or {}).get("namespace") == namespace)
    ]
    return len(shipyard_unready(chosen)) > 0


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "unready": shipyard_unready,
            "unready_results": shipyard_unready_results,
            "applied_objects": shipyard_applied_objects,
            "needs_read": shipyard_needs_read,
        }
