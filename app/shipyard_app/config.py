"""Configuration from environment variables (APP_* plus the conventional DATABASE_URL)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """An environment variable has a value the app cannot use."""


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _int(env: dict[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def _secret(env: dict[str, str], name: str) -> str | None:
    """A secret from NAME, or from the file NAME_FILE names (a mounted Kubernetes Secret)."""
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip() or None
        except OSError as err:
            raise ConfigError(f"{name}_FILE: cannot read {path}: {err.strerror}") from None
    return env.get(name) or None


def default_database_url() -> str:
    base = Path(os.environ.get("TMPDIR", "/tmp"))  # noqa: S108 - a writable tmpfs in the container
    return f"sqlite:///{base / 'shipyard-app' / 'items.db'}"


@dataclass(frozen=True)
class Config:
    name: str = "shipyard-app"
    version: str = __version__
    git_revision: str = "unknown"
    database_url: str = field(default_factory=default_database_url)
    api_token: str | None = field(default=None, repr=False)
    max_body_bytes: int = 16 * 1024
    log_level: str = "INFO"
    metrics_enabled: bool = True
    fault_injection_enabled: bool = False
    drain_flag: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        level = env.get("APP_LOG_LEVEL", "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"APP_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
        url = _secret(env, "DATABASE_URL") or default_database_url()
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ConfigError("DATABASE_URL must start with sqlite:///, postgresql:// or postgres://")
        return cls(
            name=env.get("APP_NAME", cls.name),
            version=env.get("APP_VERSION", __version__),
            git_revision=env.get("APP_GIT_REVISION", "unknown"),
            database_url=url,
            api_token=_secret(env, "APP_API_TOKEN"),
            max_body_bytes=_int(env, "APP_MAX_BODY_BYTES", cls.max_body_bytes, 256, 10 * 1024 * 1024),
            log_level=level,
            metrics_enabled=_bool(env, "APP_METRICS_ENABLED", True),
            fault_injection_enabled=_bool(env, "APP_FAULT_INJECTION_ENABLED", False),
            drain_flag=env.get("APP_DRAIN_FLAG") or None,
        )
