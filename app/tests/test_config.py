"""Configuration from the environment: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

import pytest
from shipyard_app.config import Config, ConfigError


def test_defaults() -> None:
    cfg = Config.from_env({})
    assert cfg.database_url.startswith("sqlite:///")
    assert (cfg.metrics_enabled, cfg.fault_injection_enabled, cfg.api_token) == (True, False, None)


def test_values_are_read() -> None:
    cfg = Config.from_env(
        {
            "APP_NAME": "n",
            "APP_GIT_REVISION": "abc123",
            "APP_API_TOKEN": "t",
            "DATABASE_URL": "postgresql://u@h/db",
            "APP_MAX_BODY_BYTES": "1024",
            "APP_METRICS_ENABLED": "false",
        }
    )
    assert (cfg.name, cfg.git_revision, cfg.api_token, cfg.max_body_bytes) == ("n", "abc123", "t", 1024)
    assert not cfg.metrics_enabled


def test_the_token_is_not_in_repr() -> None:
    assert "s3cret" not in repr(Config.from_env({"APP_API_TOKEN": "s3cret"}))


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"APP_METRICS_ENABLED": "maybe"}, "APP_METRICS_ENABLED"),
        ({"APP_MAX_BODY_BYTES": "lots"}, "APP_MAX_BODY_BYTES"),
        ({"APP_MAX_BODY_BYTES": "1"}, "APP_MAX_BODY_BYTES"),
        ({"APP_LOG_LEVEL": "LOUD"}, "APP_LOG_LEVEL"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Config.from_env(env)


def test_secrets_can_come_from_files(tmp_path) -> None:
    (tmp_path / "token").write_text("from-a-file\n")
    (tmp_path / "url").write_text("postgresql://u:p@db/app")
    cfg = Config.from_env({"APP_API_TOKEN_FILE": str(tmp_path / "token"), "DATABASE_URL_FILE": str(tmp_path / "url")})
    assert (cfg.api_token, cfg.database_url) == ("from-a-file", "postgresql://u:p@db/app")


def test_an_unreadable_secret_file_names_the_variable(tmp_path) -> None:
    with pytest.raises(ConfigError, match="APP_API_TOKEN_FILE"):
        Config.from_env({"APP_API_TOKEN_FILE": str(tmp_path / "missing")})
