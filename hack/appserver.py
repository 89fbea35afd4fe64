"""Start the app under its real server (gunicorn with app/gunicorn.conf.py) on loopback.

Shared by the app's tests and `make bench-app`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO

APP_DIR = Path(__file__).resolve().parent.parent / "app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(
    run_dir: Path, env: dict[str, str], stdout: IO | int = subprocess.DEVNULL
) -> tuple[subprocess.Popen, str]:
    """Start gunicorn with its state (metrics files, SQLite, drain flag) in run_dir; return it and its URL.

    The caller waits for it to answer and stops it.
    """
    port = free_port()
    full_env = {
        **os.environ,
        "PORT": str(port),
        "APP_BIND_HOST": "127.0.0.1",
        "TMPDIR": str(run_dir),
        "DATABASE_URL": f"sqlite:///{run_dir}/items.db",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "shipyard_app.wsgi:app"],
        cwd=APP_DIR, env=full_env, stdout=stdout, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return process, f"http://127.0.0.1:{port}"
