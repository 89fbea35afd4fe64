"""Input formats the roles check before any change: what the API server or a program would refuse later.

`shipyard_invalid(value, kind, name)` walks a value (a string, or a dict/list of
them) and returns one line per leaf that is not of the kind, named by the
variable and its path. URLs are never echoed: receivers' URLs carry secrets.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from typing import Any

import yaml

# Kubernetes resource.Quantity: a number with an optional binary, decimal or exponent suffix.
_QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?\d+))?$")
# Prometheus/Alertmanager durations: units from years to milliseconds, largest first, at least one.
_DURATION = re.compile(r"^(?=\d)((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
# An image reference (distribution's grammar, simplified): [host[:port]/]path[:tag][@sha256:...].
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?/)"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
_IMAGE = re.compile(rf"^{_HOST}?{_PATH}(?::[\w][\w.-]{{0,127}})?(?:@sha256:[0-9a-f]{{64}})?$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
_URL = re.compile(r"^(?P<scheme>https?)://[^\s/?#@]+(?::\d+)?(?:[/?#]\S*)?$")


# Cron schedules as the CronJob controller parses them: five fields or a macro.
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_MONTHS = {name: i + 1 for i, name in enumerate(_MONTH_NAMES)}
_DAYS = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_CRON_FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 7, _DAYS))
_TIMEZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")


def _cron_number(text: str, low: int, high: int, names: dict[str, int]) -> int | None:
    number = int(text) if text.isdigit() else names.get(text.lower())
    return number if number is not None and low <= number <= high else None


def _cron_field(field: str, low: int, high: int, names: dict[str, int]) -> bool:
    for part in field.split(","):
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) > 0):
            return False
        if base in ("*", "?"):
            continue
        start_text, dash, end_text = base.partition("-")
        start = _cron_number(start_text, low, high, names)
        end = _cron_number(end_text, low, high, names) if dash else start
        if start is None or end is None or end < start:
            return False
    return True


def _schedule(value: str) -> bool:
    if value.strip() in _CRON_MACROS:
        return True
    fields = value.split()
    return len(fields) == 5 and all(_cron_field(f, *limits) for f, limits in zip(fields, _CRON_FIELDS, strict=True))


def _timezone(value: str) -> bool:
    if not _TIMEZONE.match(value):
        return False
    if not zoneinfo.available_timezones():  # no time zone database here: the name's form only
        return True
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return "/" in value


def _port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


CHECKS: dict[str, tuple[Any, str]] = {
    "quantity": (lambda v: bool(_QUANTITY.match(str(v))), "a Kubernetes quantity (250m, 1.5, 512Mi, 2Gi)"),
    "duration": (lambda v: bool(_DURATION.match(str(v))), "a Prometheus duration (30s, 5m, 1h30m, 15d)"),
    "image": (
        lambda v: bool(_IMAGE.match(str(v))),
        "an image reference ([registry/]lowercase/path[:tag][@sha256:...])",
    ),
    "hostname": (lambda v: bool(_HOSTNAME.match(str(v))), "a DNS name (lowercase letters, digits, '-' and '.')"),
    "url": (lambda v: bool(_URL.match(str(v))), "an http(s) URL"),
    "https_url": (lambda v: (m := _URL.match(str(v))) is not None and m["scheme"] == "https", "an https URL"),
    "cidr": (lambda v: _cidr(str(v)), "a CIDR (10.0.0.0/8, 2001:db8::/32) with no host bits set"),
    "port": (_port, "a port number from 1 to 65535"),
    "schedule": (
        lambda v: _schedule(str(v)),
        "a cron schedule (five fields: minute hour day-of-month month day-of-week, or @daily, @hourly, ...)",
    ),
    "timezone": (lambda v: _timezone(str(v)), "an IANA time zone (Etc/UTC, Europe/Berlin)"),
}
_SECRET_KINDS = {"url", "https_url"}
# Under resources, only these keys hold quantities.
_QUANTITY_KEYS = {"cpu", "memory", "storage", "ephemeral-storage"}


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, f"{path}.{key}" if path else str(key))]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, f"{path}[{i}]")]
    return [(path, value)]


def shipyard_invalid(value: Any, kind: str, name: str) -> list[str]:
    """One line per leaf of value that is not a `kind`, e.g. "app_deploy_resources.limits.cpu: '1 core' is not ...".

    With an empty name, a mapping's keys name its leaves (a dict of variable name -> value).
    """
    check, description = CHECKS[kind]
    problems = []
    for path, leaf in _leaves(value, name):
        if kind == "quantity" and isinstance(value, dict) and path.rsplit(".", 1)[-1] not in _QUANTITY_KEYS:
            continue
        if not check(leaf):
            shown = "(value not shown)" if kind in _SECRET_KINDS else repr(leaf)
            problems.append(f"{path}: {shown} is not {description}")
    return problems


def shipyard_receiver_urls(receivers: list[dict[str, Any]], name: str) -> list[str]:
    """Alertmanager receivers' URLs that would be refused or leak: every URL is http(s), Slack's over https."""
    problems = []
    for i, receiver in enumerate(receivers or []):
        for config_key, items in receiver.items():
            if not config_key.endswith("_configs"):
                continue
            for j, config in enumerate(items or []):
                for key, url in (config or {}).items():
                    if key not in ("url", "api_url", "webhook_url"):
                        continue
                    kind = "https_url" if config_key == "slack_configs" else "url"
                    problems += shipyard_invalid(url, kind, f"{name}[{i}].{config_key}[{j}].{key}")
    return problems


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def shipyard_spec_options(texts: list[str]) -> list[str]:
    """The option names of every entry point in the given meta/argument_specs.yml texts, sorted.

    Parsed with PyYAML's safe loader (libyaml's when PyYAML has it): the names
    are all the run's check needs, not from_yaml's tagged strings.
    """
    names: set[str] = set()
    for text in texts:
        for spec in (yaml.load(str(text), Loader=_LOADER) or {}).get("argument_specs", {}).values():  # noqa: S506 (a safe loader)
            names.update((spec or {}).get("options") or {})
    return sorted(names)


class FilterModule:
    """Input format filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "invalid": shipyard_invalid,
            "receiver_urls": shipyard_receiver_urls,
            "spec_options": shipyard_spec_options,
        }
