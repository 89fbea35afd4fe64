"""Filters of the monitoring role."""

from __future__ import annotations

from typing import Any

# Alertmanager receiver fields that hold a secret, and the placeholders that
# replace them in rendered output (URLs stay valid URLs so amtool accepts them).
SECRET_URL_FIELDS = {"url", "api_url", "webhook_url"}
SECRET_FIELDS = {
    "auth_password",
    "auth_secret",
    "password",
    "credentials",
    "routing_key",
    "service_key",
    "bot_token",
    "api_key",
    "api_secret",
    "token",
    "smtp_auth_password",
    "smtp_auth_secret",
}


def redact_alertmanager(value: Any) -> Any:
    """Return a copy of an Alertmanager configuration with every secret value replaced."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in SECRET_URL_FIELDS and isinstance(item, str):
                out[key] = "https://redacted.invalid/"
            elif key in SECRET_FIELDS and isinstance(item, str):
                out[key] = "redacted"
            else:
                out[key] = redact_alertmanager(item)
        return out
    if isinstance(value, list):
        return [redact_alertmanager(item) for item in value]
    return value


def storage_megabytes(size: str) -> int:
    """A Kubernetes quantity such as 2Gi or 500M, in mebibytes (floor)."""
    units = {
        "Ki": 1 / 1024,
        "Mi": 1,
        "Gi": 1024,
        "Ti": 1024**2,
        "K": 1000 / 1024**2,
        "M": 1000**2 / 1024**2,
        "G": 1000**3 / 1024**2,
        "T": 1000**4 / 1024**2,
    }
    for unit in sorted(units, key=len, reverse=True):
        if size.endswith(unit):
            return int(float(size[: -len(unit)]) * units[unit])
    return int(int(size) / 1024**2)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "redact_alertmanager": redact_alertmanager,
            "storage_megabytes": storage_megabytes,
        }
