"""What a StatefulSet apply would change in the fields Kubernetes forbids to change, and the way forward.

The API refuses updates to a StatefulSet's spec outside replicas, ordinals,
template, updateStrategy, persistentVolumeClaimRetentionPolicy and
minReadySeconds. A role finds such changes before it applies anything, and
either resizes the claims in place (a larger size, on a StorageClass that
allows volume expansion) and recreates the StatefulSet around its pods and
claims, recreates it when the user confirmed it, or refuses naming the field.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

_UNITS = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "m": Decimal("0.001"),
}  # fmt: skip
_QUANTITY = re.compile(r"^([0-9.]+)([A-Za-z]*)$")


def quantity(value: Any) -> Decimal:
    """A Kubernetes quantity ("2Gi", "500M", "1.5G", 10) in base units."""
    match = _QUANTITY.match(str(value).strip())
    if not match or match[2] not in _UNITS:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return Decimal(match[1]) * _UNITS[match[2]]


def _claims(sts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    templates = sts.get("spec", {}).get("volumeClaimTemplates") or []
    return {t["metadata"]["name"]: t.get("spec", {}) for t in templates}


def _changes(desired: dict[str, Any], live: dict[str, Any]) -> list[dict[str, Any]]:
    spec, live_spec = desired["spec"], live["spec"]
    changes = []

    def differ(field: str, want: Any, have: Any, grow: bool = False) -> None:
        if want != have:
            changes.append({"field": field, "desired": want, "live": have, "grow": grow})

    differ("serviceName", spec.get("serviceName", ""), live_spec.get("serviceName", ""))
    differ("selector", spec.get("selector"), live_spec.get("selector"))
    differ(
        "podManagementPolicy",
        spec.get("podManagementPolicy", "OrderedReady"),
        live_spec.get("podManagementPolicy", "OrderedReady"),
    )
    want, have = _claims(desired), _claims(live)
    differ("volumeClaimTemplates (names)", sorted(want), sorted(have))
    for name in sorted(set(want) & set(have)):
        w_size = want[name].get("resources", {}).get("requests", {}).get("storage")
        h_size = have[name].get("resources", {}).get("requests", {}).get("storage")
        if quantity(w_size) != quantity(h_size):
            differ(f"volumeClaimTemplates[{name}] storage", w_size, h_size, grow=quantity(w_size) > quantity(h_size))
        differ(
            f"volumeClaimTemplates[{name}] storageClassName",
            want[name].get("storageClassName") or "(the default class)",
            have[name].get("storageClassName") or "(the default class)",
        )
        differ(
            f"volumeClaimTemplates[{name}] accessModes", want[name].get("accessModes"), have[name].get("accessModes")
        )
    return changes


def shipyard_statefulset_plan(
    desired: list[dict[str, Any]],
    live: list[dict[str, Any]],
    claims: list[dict[str, Any]],
    classes: list[dict[str, Any]],
    recreate: bool,
) -> dict[str, Any]:
    """For each StatefulSet about to be applied: its forbidden changes, and what to do about them.

    Returns changes (one line each), resize (claims to grow: namespace, name, size),
    recreate (StatefulSets to delete with their pods and claims orphaned, so that the
    apply creates them anew and they adopt both) and refuse (lines for changes that
    neither a resize nor a confirmed recreate covers).
    """
    by_key = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in live}
    expandable = {c["metadata"]["name"] for c in classes if c.get("allowVolumeExpansion")}
    default_class = next(
        (
            c["metadata"]["name"]
            for c in classes
            if (c["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"
        ),
        "",
    )
    plan: dict[str, list[Any]] = {"changes": [], "resize": [], "recreate": [], "refuse": []}
    for sts in desired:
        key = (sts["metadata"]["namespace"], sts["metadata"]["name"])
        if key not in by_key:
            continue
        changes = _changes(sts, by_key[key])
        if not changes:
            continue
        label = f"StatefulSet {key[0]}/{key[1]}"
        lines = [f"{label}: {c['field']} {c['live']} -> {c['desired']}" for c in changes]
        plan["changes"] += lines
        grown = []
        if all(c["grow"] for c in changes):
            for name, spec in _claims(sts).items():
                size = spec["resources"]["requests"]["storage"]
                pattern = re.compile(rf"^{re.escape(name)}-{re.escape(key[1])}-\d+$")
                for claim in claims:
                    meta = claim["metadata"]
                    if meta["namespace"] != key[0] or not pattern.match(meta["name"]):
                        continue
                    cls = claim["spec"].get("storageClassName") or default_class
                    grown.append((meta["name"], cls, size, claim["spec"]["resources"]["requests"]["storage"]))
        if grown and all(grow[1] in expandable for grow in grown):
            plan["resize"] += [
                {"namespace": key[0], "name": n, "size": size}
                for n, _cls, size, now in grown
                if quantity(now) < quantity(size)
            ]
            plan["recreate"].append({"namespace": key[0], "name": key[1]})
        elif recreate:
            plan["recreate"].append({"namespace": key[0], "name": key[1]})
        else:
            plan["refuse"] += lines
    return plan


class FilterModule:
    """StatefulSet change filters."""

    def filters(self) -> dict[str, Any]:
        return {"statefulset_plan": shipyard_statefulset_plan}
