"""shipyard's demo service: a small JSON API with health, metrics and JSON logs.

Kept light on purpose: gunicorn's master imports shipyard_app.logs for its log
formatter, and must not import prometheus_client (and create metric files)
before its hooks have prepared PROMETHEUS_MULTIPROC_DIR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__version__ = "0.1.0"


def create_app(*args: Any, **kwargs: Any) -> Flask:
    from .factory import create_app as _create_app  # noqa: PLC0415 - see the module docstring

    return _create_app(*args, **kwargs)


__all__ = ["__version__", "create_app"]
