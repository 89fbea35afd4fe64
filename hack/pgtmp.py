"""A throwaway PostgreSQL server on 127.0.0.1 (Debian's package), for tests and benchmarks.

with temporary_postgres() as url:   # postgresql://postgres:<random>@127.0.0.1:<port>/postgres
    ...

Hand-written rather than pytest-postgresql on purpose: its process fixture runs
initdb and pg_ctl as the current user, and PostgreSQL refuses to run as root,
which is who runs CI and `make test` here; this one drops to the postgres
account (runuser), sets a password (scram-sha-256) so the app connects as it
does in the cluster, and also serves `make bench`, which is not a pytest run.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appserver import free_port

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def temporary_postgres() -> Iterator[str]:
    subprocess.run([str(ROOT / "hack/ensure-packages.sh"), "/usr/lib/postgresql/*/bin/initdb=postgresql"], check=True)
    bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
    # Its own folder under /tmp: PostgreSQL refuses to run as root, and its user
    # must reach the folder (pytest's temp tree, for one, is private to root).
    base = Path(tempfile.mkdtemp(prefix="shipyard-pg-"))
    data, sockets, pwfile = base / "data", base / "sock", base / "pw"
    sockets.mkdir()
    password = secrets.token_urlsafe(16)
    pwfile.write_text(password + "\n")
    runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if runas:
        for path in (base, sockets, pwfile):
            shutil.chown(path, "postgres")
    port = free_port()
    pg_ctl = [*runas, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run(
            [*runas, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
             f"--pwfile={pwfile}", "-E", "UTF8"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [*pg_ctl, "-l", str(base / "server.log"), "-w", "-t", "30", "-o", f"-h 127.0.0.1 -p {port} -k {sockets}",
             "start"],
            check=True, capture_output=True,
        )  # fmt: skip
        yield f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "stop"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new, empty database on the server at URL `server`, dropped on exit; yields its URL."""
    import psycopg  # noqa: PLC0415  # the app's driver, needed only by this helper's callers

    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
