"""The two databases the store runs on, behind one small interface.

SQLite (a file in the data directory) is the embedded default for one replica; PostgreSQL
(``DUBBING_DATABASE_URL=postgresql://…``) lets several replicas share one store. The store writes
its SQL once, with ``?`` placeholders and the column ``"user"`` quoted, which both accept; the
schema's column types are filled in per database (a timestamp is a ``DOUBLE PRECISION`` in
PostgreSQL, whose ``REAL`` is only 4 bytes). Rows come back as dicts.

Besides queries and transactions each database gives two locks: :meth:`Tx.lock` serialises the
transactions that use one key (a count followed by an insert, say), and :meth:`Database.try_lock`
holds a key for as long as a block runs, across every process using the database. PostgreSQL's
is a session advisory lock on a connection of its own, so a replica that dies lets go at once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

Row = dict[str, Any]
#: Idle connections kept for the next :meth:`PostgresDatabase.try_lock` (more are closed).
LOCK_CONNECTIONS_KEPT = 4

#: Column types per database, named in the schema as ``{float}`` and ``{bigint}``.
TYPES = {
    "sqlite": {"float": "REAL", "bigint": "INTEGER"},
    "postgres": {"float": "DOUBLE PRECISION", "bigint": "BIGINT"},
}


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def postgres_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class DatabaseUnavailable(RuntimeError):
    """The database did not answer (PostgreSQL down or unreachable); the request may be retried."""


class Tx(Protocol):
    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        """Run one statement; returns the rows it changed."""

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Row]: ...

    def lock(self, key: str) -> None:
        """Hold ``key`` until the transaction ends (other transactions locking it wait)."""


class Database(Protocol):
    kind: str

    def query(self, sql: str, *args: Any) -> list[Row]: ...

    def tx(self) -> AbstractContextManager[Tx]: ...

    def try_lock(self, key: str) -> AbstractContextManager[bool]:
        """Whether ``key`` is now held by this block alone (False: another holds it; nothing waits)."""

    def healthy(self) -> bool: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------- SQLite
class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        return self.conn.execute(sql, args).rowcount

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Row]:
        return [dict(r) for r in self.conn.execute(sql, args).fetchall()]

    def lock(self, key: str) -> None:
        """``BEGIN IMMEDIATE`` holds the whole database already."""


class SqliteDatabase:
    """One file; a connection per thread (WAL mode handles one process's threads)."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._held: set[str] = set()
        self._held_lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def query(self, sql: str, *args: Any) -> list[Row]:
        return [dict(r) for r in self._conn().execute(sql, args).fetchall()]

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield _SqliteTx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def try_lock(self, key: str) -> Iterator[bool]:
        # One replica only (the chart refuses more with SQLite): a lock in this process suffices.
        with self._held_lock:
            if key in self._held:
                mine = False
            else:
                self._held.add(key)
                mine = True
        try:
            yield mine
        finally:
            if mine:
                with self._held_lock:
                    self._held.discard(key)

    def healthy(self) -> bool:
        return True  # a file of this process

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


# ------------------------------------------------------------------ PostgreSQL
class _PgTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        return int(self.conn.execute(postgres_sql(sql), args).rowcount)

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Row]:
        return list(self.conn.execute(postgres_sql(sql), args).fetchall())

    def lock(self, key: str) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


class PostgresDatabase:
    """A bounded pool of autocommit connections; a transaction takes one for its length."""

    kind = "postgres"

    def __init__(self, url: str, pool_size: int = 8, connect_timeout_s: int = 10) -> None:
        import psycopg  # only a PostgreSQL store needs the driver loaded

        self._psycopg = psycopg
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self._idle: list[Any] = []
        self._lock_idle: list[Any] = []
        self._slots = threading.BoundedSemaphore(pool_size)
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        from psycopg.rows import dict_row

        try:
            return self._open(dict_row)
        except self._psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"the database is not answering ({_first_line(exc)})") from exc

    def _open(self, row_factory: Any) -> Any:
        return self._psycopg.connect(
            self.url,
            autocommit=True,
            row_factory=row_factory,
            connect_timeout=self.connect_timeout_s,
            # a peer that vanishes without closing (a node lost) is noticed within about a minute
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        if not self._slots.acquire(timeout=60):
            raise DatabaseUnavailable("no database connection came free within 60 s")
        conn = None
        try:
            with self._lock:
                while self._idle and conn is None:
                    candidate = self._idle.pop()
                    if candidate.closed or candidate.broken:
                        candidate.close()
                    else:
                        conn = candidate
            if conn is None:
                conn = self._connect()
            yield conn
        except self._psycopg.OperationalError as exc:
            if conn is not None:
                conn.close()
                conn = None
            raise DatabaseUnavailable(f"the database is not answering ({_first_line(exc)})") from exc
        finally:
            if conn is not None:
                if (
                    conn.closed
                    or conn.broken
                    or conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE
                ):
                    conn.close()
                else:
                    with self._lock:
                        self._idle.append(conn)
            self._slots.release()

    def query(self, sql: str, *args: Any) -> list[Row]:
        with self._conn() as conn:
            return list(conn.execute(postgres_sql(sql), args).fetchall())

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        with self._conn() as conn, conn.transaction():
            yield _PgTx(conn)

    @contextmanager
    def try_lock(self, key: str) -> Iterator[bool]:
        # A connection outside the pool (a lock may be held for a whole upload request): the lock
        # ends with the process that holds it, as Postgres drops a dead client's session locks with
        # its session. Unlocked, the connection waits for the next lock (a few are kept).
        conn = self._lock_conn()
        mine = False
        try:
            try:
                row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0)) AS got", (key,)).fetchone()
            except self._psycopg.OperationalError as exc:
                raise DatabaseUnavailable(f"the database is not answering ({_first_line(exc)})") from exc
            mine = bool(row and row["got"])
            yield mine
        finally:
            self._lock_done(conn, key if mine else None)

    def _lock_conn(self) -> Any:
        with self._lock:
            while self._lock_idle:
                conn = self._lock_idle.pop()
                if not (conn.closed or conn.broken):
                    return conn
                conn.close()
        return self._connect()

    def _lock_done(self, conn: Any, held: str | None) -> None:
        try:
            if held is not None:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (held,))
        except self._psycopg.Error:
            conn.close()  # closing lets go of the lock as well
            return
        with self._lock:
            if len(self._lock_idle) < LOCK_CONNECTIONS_KEPT and not (conn.closed or conn.broken):
                self._lock_idle.append(conn)
                return
        conn.close()

    def healthy(self) -> bool:
        try:
            self.query("SELECT 1 AS one")
            return True
        except DatabaseUnavailable:
            return False

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle + self._lock_idle, []
            self._lock_idle = []
        for conn in idle:
            conn.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def open_database(url: str | None, data_dir: Path, pool_size: int = 8) -> Database:
    """PostgreSQL for a ``postgresql://`` URL; unset: the SQLite file in ``data_dir``."""
    if not url:
        return SqliteDatabase(data_dir / "webui.sqlite3")
    if is_postgres_url(url):
        return PostgresDatabase(url, pool_size)
    raise ValueError("the database URL must start with postgresql://")
