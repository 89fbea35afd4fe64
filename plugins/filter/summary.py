"""Filters for the site's closing summary: what runs where, and how to reach it."""

from __future__ import annotations

from typing import Any

SIMULATED_ANNOTATION = "kwok.x-k8s.io/node"


def _workload(pod: dict[str, Any]) -> tuple[str, str]:
    """The (kind, name) of the controller that owns a pod."""
    owners = pod["metadata"].get("ownerReferences") or [{"kind": "Pod", "name": pod["metadata"]["name"]}]
    kind, name = owners[0]["kind"], owners[0]["name"]
    template_hash = pod["metadata"].get("labels", {}).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
        return "Deployment", name[: -len(template_hash) - 1]
    return kind, name


def _selects(service: dict[str, Any], pod: dict[str, Any]) -> bool:
    selector = service["spec"].get("selector") or {}
    labels = pod["metadata"].get("labels", {})
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def shipyard_workloads(
    pods: list[dict[str, Any]],
    services: list[dict[str, Any]],
    nodes: list[dict[str, Any]],
    kubectl: str,
    published: dict[Any, str] | None = None,
) -> list[dict[str, Any]]:
    """One row per workload: namespace, name, ready/total pods, where they run, how to reach it.

    A node is simulated when kwok plays it (its kwok.x-k8s.io/node annotation);
    `published` maps a node port to the address where the host publishes it.
    """
    by_node_port = {str(k): v for k, v in (published or {}).items()}
    # A Service with a ClusterIP first; a headless one does for port-forward too.
    services = sorted(services, key=lambda s: s["spec"].get("clusterIP") == "None")
    simulated = {n["metadata"]["name"] for n in nodes if SIMULATED_ANNOTATION in n["metadata"].get("annotations", {})}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for pod in pods:
        namespace = pod["metadata"]["namespace"]
        kind, name = _workload(pod)
        if kind == "Job":
            continue
        row = rows.setdefault(
            (namespace, name),
            {"namespace": namespace, "name": name, "kind": kind, "ready": 0, "pods": 0, "runs_on": set(), "reach": ""},
        )
        row["pods"] += 1
        row["ready"] += _ready(pod)
        node = pod["spec"].get("nodeName")
        row["runs_on"].add("pending" if not node else "simulated" if node in simulated else "real")
        if not row["reach"]:
            service = next(
                (s for s in services if s["metadata"]["namespace"] == namespace and _selects(s, pod)),
                None,
            )
            if service is not None:
                port = service["spec"]["ports"][0]
                row["reach"] = by_node_port.get(str(port.get("nodePort"))) or (
                    f"{kubectl} -n {namespace} port-forward svc/{service['metadata']['name']} {port['port']}"
                )
    result = []
    for row in sorted(rows.values(), key=lambda r: (r["namespace"], r["name"])):
        row["runs_on"] = "+".join(sorted(row["runs_on"]))
        if row["runs_on"] == "simulated":
            row["reach"] = "simulated by kwok: no container runs, nothing answers"
        result.append(row)
    return result


def shipyard_table(rows: list[dict[str, Any]]) -> str:
    """The rows of shipyard_workloads as an aligned text table."""
    header = {"workload": "WORKLOAD", "ready": "READY", "runs_on": "RUNS ON", "reach": "HOW TO REACH"}
    lines = [header] + [
        {
            "workload": f"{r['namespace']}/{r['name']}",
            "ready": f"{r['ready']}/{r['pods']}",
            "runs_on": r["runs_on"],
            "reach": r["reach"] or "-",
        }
        for r in rows
    ]
    widths = {k: max(len(line[k]) for line in lines) for k in header}
    return "\n".join(
        "  ".join(line[k].ljust(widths[k]) for k in ("workload", "ready", "runs_on")) + "  " + line["reach"]
        for line in lines
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"workloads": shipyard_workloads, "table": shipyard_table}
