"""The StatefulSet change planner: which changes the API forbids, and resize, recreate or refuse."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("shipyard_statefulset", ROOT / "plugins/filter/statefulset.py")
sts_filter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sts_filter)
plan = sts_filter.shipyard_statefulset_plan


def sts(size: str = "2Gi", cls: str | None = None, service: str = "es") -> dict:
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls:
        claim["storageClassName"] = cls
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "es", "namespace": "ns"},
        "spec": {
            "serviceName": service,
            "selector": {"matchLabels": {"app": "es"}},
            "replicas": 1,
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim}],
        },
    }


def pvc(name: str, size: str, cls: str = "std") -> dict:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"storageClassName": cls, "resources": {"requests": {"storage": size}}},
    }


CLASSES = [{"metadata": {"name": "std"}}, {"metadata": {"name": "grow"}, "allowVolumeExpansion": True}]


def test_quantities_compare_across_units() -> None:
    assert sts_filter.quantity("1Gi") == sts_filter.quantity("1024Mi")
    assert sts_filter.quantity("2G") < sts_filter.quantity("2Gi")
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        sts_filter.quantity("2 GB")


def test_no_change_and_a_new_statefulset_plan_nothing() -> None:
    nothing = plan([sts()], [sts()], [], CLASSES, False)
    assert nothing == {"changes": [], "resize": [], "recreate": [], "refuse": []}
    assert plan([sts()], [], [], CLASSES, False)["changes"] == []
    # Fields the API lets change (replicas, template) are no concern.
    more = copy.deepcopy(sts())
    more["spec"]["replicas"] = 3
    assert plan([more], [sts()], [], CLASSES, False)["changes"] == []
    # The same size written otherwise is no change.
    assert plan([sts("2048Mi")], [sts()], [], CLASSES, False)["changes"] == []


def test_a_larger_claim_on_a_fixed_class_is_refused_naming_the_field() -> None:
    result = plan([sts("50Gi")], [sts()], [pvc("data-es-0", "2Gi")], CLASSES, False)
    assert result["refuse"] == ["StatefulSet ns/es: volumeClaimTemplates[data] storage 2Gi -> 50Gi"]
    assert result["resize"] == [] and result["recreate"] == []


def test_a_larger_claim_on_an_expandable_class_grows_in_place() -> None:
    claims = [pvc("data-es-0", "2Gi", "grow"), pvc("data-es-1", "2Gi", "grow"), pvc("data-other-0", "2Gi", "grow")]
    result = plan([sts("50Gi")], [sts()], claims, CLASSES, False)
    assert result["refuse"] == []
    assert result["resize"] == [
        {"namespace": "ns", "name": "data-es-0", "size": "50Gi"},
        {"namespace": "ns", "name": "data-es-1", "size": "50Gi"},
    ]
    assert result["recreate"] == [{"namespace": "ns", "name": "es"}]


def test_a_smaller_claim_or_another_service_needs_a_confirmed_recreate() -> None:
    for desired in (sts("1Gi"), sts(service="es-headless"), sts(cls="grow")):
        claims = [pvc("data-es-0", "2Gi", "grow")]
        assert plan([desired], [sts()], claims, CLASSES, False)["refuse"], desired
        confirmed = plan([desired], [sts()], claims, CLASSES, True)
        assert confirmed["refuse"] == [] and confirmed["resize"] == []
        assert confirmed["recreate"] == [{"namespace": "ns", "name": "es"}]
