"""Storage for items: SQLite by default, PostgreSQL when DATABASE_URL names one.

SQLite keeps the app runnable anywhere with nothing else, but its file belongs
to one pod: replicas would each have their own data. Several replicas behind a
Service must share PostgreSQL. The schema is created or migrated on start;
on PostgreSQL an advisory lock makes replicas that start together migrate once.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Ordered migrations; the index + 1 is the schema version.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE items (
        id {serial} PRIMARY KEY,
        name VARCHAR(100) NOT NULL,
        description VARCHAR(1000) NOT NULL DEFAULT '',
        quantity INTEGER NOT NULL DEFAULT 0 CHECK (quantity >= 0),
        created_at VARCHAR(40) NOT NULL,
        updated_at VARCHAR(40) NOT NULL
    )
    """,
    "CREATE INDEX items_created_at ON items (created_at)",
]
FIELDS = ("id", "name", "description", "quantity", "created_at", "updated_at")
_COLUMNS = ", ".join(FIELDS)
# Statements are built once from the constant column list; values are always bound parameters.
_INSERT = f"INSERT INTO items (name, description, quantity, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING {_COLUMNS}"  # noqa: S608, E501 - constant columns
_SELECT_ONE = f"SELECT {_COLUMNS} FROM items WHERE id = ?"  # noqa: S608 - constant columns
_SELECT_PAGE = f"SELECT {_COLUMNS} FROM items ORDER BY id LIMIT ? OFFSET ?"  # noqa: S608 - constant columns
_ADVISORY_LOCK_ID = 7_302_515  # any constant; shared by every replica
# A PostgreSQL connection idle this long is pinged before use: a database that
# restarted closed it, and each thread's next request would fail on it.
PING_AFTER_IDLE_SECONDS = 1.0


class DatabaseUnavailable(Exception):
    """The database cannot be reached or answered with an error."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    """Items in a SQL database. One connection per thread, reopened after failures."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.kind = "sqlite" if url.startswith("sqlite:") else "postgresql"
        self._local = threading.local()
        self._ph = "?" if self.kind == "sqlite" else "%s"
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._opened: list[Any] = []  # every connection, so close() reaches other threads' too
        self._opened_lock = threading.Lock()

    # -- connections -------------------------------------------------------------
    def _connect(self) -> Any:
        if self.kind == "sqlite":
            # sqlite:///relative/path or sqlite:////absolute/path
            path = Path(self.url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=5000")
            return conn
        import psycopg  # noqa: PLC0415 - only needed with PostgreSQL

        return psycopg.connect(self.url, autocommit=True, connect_timeout=3)

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self.kind == "postgresql" and self._idle() > PING_AFTER_IDLE_SECONDS:
            try:
                conn.execute("SELECT 1")
            except Exception as err:
                if not _is_db_error(err):
                    raise
                self._drop()  # closed by a restart or a dropped link: open a new one below
                conn = None
        self._local.used = time.monotonic()
        if conn is None:
            try:
                conn = self._connect()
            except Exception as err:
                raise DatabaseUnavailable(f"{type(err).__name__}: {err}") from err
            self._local.conn = conn
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    def _idle(self) -> float:
        return time.monotonic() - getattr(self._local, "used", time.monotonic())

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            self._close(conn)

    def _close(self, conn: Any) -> None:
        with self._opened_lock:
            if conn in self._opened:
                self._opened.remove(conn)
        # Closing a broken connection may fail; it is dropped either way.
        with contextlib.suppress(Exception):
            conn.close()

    def release(self) -> None:
        """Close the calling thread's connection, if it has one (a thread that ends uses it no more)."""
        self._drop()

    def close(self) -> None:
        """Close every connection this store opened, in any thread.

        A migration in progress (the one the app starts beside its start) ends
        first: its connection is not closed under it."""
        with self._schema_lock, self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            self._close(conn)
        self._local = threading.local()

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        conn = self._conn()
        try:
            cur = conn.cursor()
            try:
                yield cur
            finally:
                cur.close()
        except Exception as err:
            if _is_db_error(err):
                self._drop()
                raise DatabaseUnavailable(f"{type(err).__name__}: {err}") from err
            raise

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self._ph)

    # -- schema --------------------------------------------------------------------
    def migrate(self) -> int:
        """Bring the schema to the newest version; return that version."""
        serial = "INTEGER" if self.kind == "sqlite" else "BIGSERIAL"
        with self._cursor() as cur:
            if self.kind == "postgresql":
                cur.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_ID,))
            try:
                cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                cur.execute("SELECT MAX(version) FROM schema_version")
                current = cur.fetchone()[0] or 0
                for version, statement in enumerate(MIGRATIONS[current:], start=current + 1):
                    cur.execute("BEGIN")
                    cur.execute(statement.format(serial=serial))
                    cur.execute(self._sql("INSERT INTO schema_version (version) VALUES (?)"), (version,))
                    cur.execute("COMMIT")
                return len(MIGRATIONS)
            finally:
                if self.kind == "postgresql":
                    cur.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_ID,))

    def ensure_schema(self) -> None:
        """Migrate once; until it has worked, every call tries again (the database may come up later)."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if not self._schema_ready:
                self.migrate()
                self._schema_ready = True

    def ping(self) -> None:
        self.ensure_schema()
        with self._cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    # -- items ---------------------------------------------------------------------
    @staticmethod
    def _row(row: tuple[Any, ...] | None) -> dict[str, Any] | None:
        return dict(zip(FIELDS, row, strict=True)) if row else None

    def create(self, name: str, description: str, quantity: int) -> dict[str, Any]:
        self.ensure_schema()
        stamp = now()
        with self._cursor() as cur:
            cur.execute(self._sql(_INSERT), (name, description, quantity, stamp, stamp))
            return self._row(cur.fetchone())  # type: ignore[return-value]

    def get(self, item_id: int) -> dict[str, Any] | None:
        self.ensure_schema()
        with self._cursor() as cur:
            cur.execute(self._sql(_SELECT_ONE), (item_id,))
            return self._row(cur.fetchone())

    def list(self, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        self.ensure_schema()
        with self._cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM items")
            total = cur.fetchone()[0]
            cur.execute(self._sql(_SELECT_PAGE), (limit, offset))
            return [self._row(r) for r in cur.fetchall()], total  # type: ignore[misc]

    def update(self, item_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
        self.ensure_schema()
        columns = [c for c in ("name", "description", "quantity") if c in changes]
        assignments = ", ".join([*(f"{c} = ?" for c in columns), "updated_at = ?"])
        values = [changes[c] for c in columns]
        with self._cursor() as cur:
            cur.execute(
                self._sql(f"UPDATE items SET {assignments} WHERE id = ? RETURNING {_COLUMNS}"),  # noqa: S608 - fixed column names
                (*values, now(), item_id),
            )
            return self._row(cur.fetchone())

    def delete(self, item_id: int) -> bool:
        self.ensure_schema()
        with self._cursor() as cur:
            cur.execute(self._sql("DELETE FROM items WHERE id = ? RETURNING id"), (item_id,))
            return cur.fetchone() is not None


def _is_db_error(err: BaseException) -> bool:
    if isinstance(err, sqlite3.Error):
        return True
    try:
        import psycopg  # noqa: PLC0415
    except ImportError:
        return False
    return isinstance(err, psycopg.Error)
