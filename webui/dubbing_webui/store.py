"""The authoritative store: SQLite in the data directory (one replica) or PostgreSQL (any number).

Users, sessions, API tokens, notification settings, upload sessions and the per-user caps that
every replica must count together (open streams, test notifications) live here, so nothing is lost
when Redis goes away and no replica holds state another needs. :mod:`.db` hides which database it
is; the schema and its additions are the same for both.
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .db import TYPES, Database, Row, SqliteDatabase, Tx

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    created {float} NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    "user" TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    expires {float} NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,
    "user" TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created {float} NOT NULL
);
CREATE TABLE IF NOT EXISTS user_settings (
    "user" TEXT PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    size {bigint} NOT NULL,
    type TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    s3_upload_id TEXT NOT NULL,
    chunk_size {bigint} NOT NULL,
    state TEXT NOT NULL,
    created {float} NOT NULL,
    expires {float} NOT NULL,
    sha256 TEXT,
    probe TEXT,
    metadata TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS uploads_owner ON uploads(owner);
CREATE TABLE IF NOT EXISTS upload_parts (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    size {bigint} NOT NULL,
    sha256 TEXT NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (upload_id, number)
);
CREATE TABLE IF NOT EXISTS stream_slots (
    id TEXT PRIMARY KEY,
    "user" TEXT NOT NULL,
    expires {float} NOT NULL
);
CREATE INDEX IF NOT EXISTS stream_slots_user ON stream_slots("user");
CREATE TABLE IF NOT EXISTS rate_hits (
    key TEXT NOT NULL,
    at {float} NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_hits_key ON rate_hits(key, at);
CREATE TABLE IF NOT EXISTS user_glossaries (
    owner TEXT PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,
    entries TEXT NOT NULL,
    updated {float} NOT NULL
);
"""


class UserExists(ValueError):
    """A user of that name exists already (another replica may have just made it)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class UploadRecord:
    id: str
    owner: str
    name: str
    size: int
    type: str
    bucket: str
    key: str
    s3_upload_id: str
    chunk_size: int
    state: str  # "open", "assembled" (in MinIO, being verified), "complete", "rejected"
    created: float
    expires: float
    sha256: str | None
    probe: dict[str, Any] | None
    metadata: dict[str, Any]

    @property
    def chunk_count(self) -> int:
        return max(1, -(-self.size // self.chunk_size))

    def chunk_length(self, index: int) -> int:
        """Bytes in chunk ``index`` (0-based); every chunk is full but the last."""
        if not 0 <= index < self.chunk_count:
            raise IndexError(index)
        start = index * self.chunk_size
        return min(self.chunk_size, self.size - start)


@dataclass(frozen=True)
class PartRecord:
    number: int  # 1-based S3 part number
    size: int
    sha256: str
    etag: str


class Store:
    """The store on ``db`` (a path: the SQLite file there); its schema is made or brought up to date."""

    def __init__(self, db: Database | Path) -> None:
        self.db: Database = SqliteDatabase(db) if isinstance(db, Path) else db
        self._migrate()

    #: Columns added after the first release: (table, column, definition). A database made before
    #: gets them at start (with its default in every row).
    ADDED_COLUMNS = (
        ("users", "disabled", "INTEGER NOT NULL DEFAULT 0"),
        ("sessions", "last_seen", "{float} NOT NULL DEFAULT 0"),
        ("api_tokens", "expires", "{float}"),
    )

    def _migrate(self) -> None:
        """Create what is missing, in one transaction that holds the schema lock (replicas starting
        together would otherwise race on the catalog)."""
        types = TYPES[self.db.kind]
        with self.db.tx() as db:
            db.lock("dubbing-webui:schema")
            for statement in SCHEMA.format(**types).split(";"):
                if statement.strip():
                    db.execute(statement)
            for table, column, definition in self.ADDED_COLUMNS:
                if column not in _columns(db, self.db.kind, table):
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition.format(**types)}")

    def tx(self) -> AbstractContextManager[Tx]:
        return self.db.tx()

    def query(self, sql: str, *args: Any) -> list[Row]:
        return self.db.query(sql, *args)

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------- users
    def add_user(self, name: str, password_hash: str, role: str) -> User:
        with self.tx() as db:
            added = db.execute(
                "INSERT INTO users (name, password_hash, role, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO NOTHING",
                (name, password_hash, role, time.time()),
            )
        if not added:
            raise UserExists(name)
        return User(name, role)

    def user(self, name: str, *, include_disabled: bool = False) -> User | None:
        rows = self.query("SELECT name, role, disabled FROM users WHERE name = ?", name)
        if not rows or (rows[0]["disabled"] and not include_disabled):
            return None
        return User(rows[0]["name"], rows[0]["role"])

    def is_disabled(self, name: str) -> bool:
        rows = self.query("SELECT disabled FROM users WHERE name = ?", name)
        return bool(rows and rows[0]["disabled"])

    def set_disabled(self, name: str, disabled: bool) -> bool:
        """Disable (or enable) the user; disabling ends their sessions and revokes their tokens at once."""
        with self.tx() as db:
            changed = db.execute("UPDATE users SET disabled = ? WHERE name = ?", (1 if disabled else 0, name))
            if disabled:
                db.execute('DELETE FROM sessions WHERE "user" = ?', (name,))
                db.execute('DELETE FROM api_tokens WHERE "user" = ?', (name,))
            return changed > 0

    def delete_user(self, name: str) -> bool:
        """Remove the user with their sessions, tokens and settings."""
        with self.tx() as db:
            for table in ("sessions", "api_tokens", "user_settings"):
                db.execute(f'DELETE FROM {table} WHERE "user" = ?', (name,))
            return db.execute("DELETE FROM users WHERE name = ?", (name,)) > 0

    def drop_sessions(self, user: str, keep: str | None = None) -> None:
        """End every session of ``user`` (but the one whose id hash is ``keep``)."""
        with self.tx() as db:
            db.execute('DELETE FROM sessions WHERE "user" = ? AND id_hash != ?', (user, keep or ""))

    def password_hash(self, name: str) -> str | None:
        rows = self.query("SELECT password_hash FROM users WHERE name = ?", name)
        return rows[0]["password_hash"] if rows else None

    def set_password_hash(self, name: str, password_hash: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))

    def users(self) -> list[User]:
        return [
            User(r["name"], r["role"])
            for r in self.query("SELECT name, role FROM users WHERE disabled = 0 ORDER BY name")
        ]

    def count_admins(self) -> int:
        return int(self.query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0")[0]["n"])

    # ------------------------------------------------------------- sessions
    def add_session(self, id_hash: str, user: str, csrf: str, expires: float) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM sessions WHERE expires < ?", (time.time(),))
            db.execute(
                'INSERT INTO sessions (id_hash, "user", csrf, expires, last_seen) VALUES (?, ?, ?, ?, ?)',
                (id_hash, user, csrf, expires, time.time()),
            )

    def session(self, id_hash: str, idle_s: float | None = None) -> tuple[User, str] | None:
        """The session's user and CSRF token, if it has neither expired nor been idle for ``idle_s``;
        a found session counts as seen now (written at most once a minute)."""
        now = time.time()
        rows = self.query(
            'SELECT u.name, u.role, s.csrf, s.last_seen FROM sessions s JOIN users u ON u.name = s."user" '
            "WHERE s.id_hash = ? AND s.expires > ? AND u.disabled = 0",
            id_hash,
            now,
        )
        if not rows:
            return None
        if idle_s is not None and now - rows[0]["last_seen"] > idle_s:
            self.drop_session(id_hash)
            return None
        if now - rows[0]["last_seen"] > 60:
            with self.tx() as db:
                db.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, id_hash))
        return User(rows[0]["name"], rows[0]["role"]), rows[0]["csrf"]

    def drop_session(self, id_hash: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))

    # ----------------------------------------------------------- api tokens
    def add_token(self, token_hash: str, user: str, label: str, expires: float | None = None) -> None:
        with self.tx() as db:
            db.execute(
                'INSERT INTO api_tokens (token_hash, "user", label, created, expires) VALUES (?, ?, ?, ?, ?)',
                (token_hash, user, label, time.time(), expires),
            )

    def token_user(self, token_hash: str) -> User | None:
        rows = self.query(
            'SELECT u.name, u.role FROM api_tokens t JOIN users u ON u.name = t."user" '
            "WHERE t.token_hash = ? AND u.disabled = 0 AND (t.expires IS NULL OR t.expires > ?)",
            token_hash,
            time.time(),
        )
        return User(rows[0]["name"], rows[0]["role"]) if rows else None

    def tokens(self, user: str) -> list[dict[str, Any]]:
        rows = self.query(
            'SELECT substr(token_hash, 1, 12) AS id, label, created, expires FROM api_tokens WHERE "user" = ? '
            "ORDER BY created",
            user,
        )
        return [dict(r) for r in rows]

    def drop_token(self, user: str, token_id: str) -> bool:
        with self.tx() as db:
            return (
                db.execute(
                    'DELETE FROM api_tokens WHERE "user" = ? AND substr(token_hash, 1, 12) = ?', (user, token_id)
                )
                > 0
            )

    # -------------------------------------------------------------- settings
    def user_settings(self, user: str) -> dict[str, Any]:
        rows = self.query('SELECT data FROM user_settings WHERE "user" = ?', user)
        return json.loads(rows[0]["data"]) if rows else {}

    def set_user_settings(self, user: str, data: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                'INSERT INTO user_settings ("user", data) VALUES (?, ?) '
                'ON CONFLICT("user") DO UPDATE SET data = excluded.data',
                (user, json.dumps(data)),
            )

    # --------------------------------------------------------------- uploads
    @staticmethod
    def _upload(row: Row) -> UploadRecord:
        return UploadRecord(
            id=row["id"],
            owner=row["owner"],
            name=row["name"],
            size=row["size"],
            type=row["type"],
            bucket=row["bucket"],
            key=row["key"],
            s3_upload_id=row["s3_upload_id"],
            chunk_size=row["chunk_size"],
            state=row["state"],
            created=row["created"],
            expires=row["expires"],
            sha256=row["sha256"],
            probe=json.loads(row["probe"]) if row["probe"] else None,
            metadata=json.loads(row["metadata"] or "{}"),
        )

    def add_upload(self, rec: UploadRecord) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO uploads (id, owner, name, size, type, bucket, key, s3_upload_id, chunk_size, state,"
                " created, expires, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rec.id,
                    rec.owner,
                    rec.name,
                    rec.size,
                    rec.type,
                    rec.bucket,
                    rec.key,
                    rec.s3_upload_id,
                    rec.chunk_size,
                    rec.state,
                    rec.created,
                    rec.expires,
                    json.dumps(rec.metadata),
                ),
            )

    def upload(self, upload_id: str) -> UploadRecord | None:
        rows = self.query("SELECT * FROM uploads WHERE id = ?", upload_id)
        return self._upload(rows[0]) if rows else None

    def uploads(self, owner: str | None, state: str | None = None) -> list[UploadRecord]:
        sql, args = "SELECT * FROM uploads WHERE 1=1", []
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        return [self._upload(r) for r in self.query(sql + " ORDER BY created DESC", *args)]

    def expired_uploads(self, now: float) -> list[UploadRecord]:
        return [
            self._upload(r)
            for r in self.query("SELECT * FROM uploads WHERE state IN ('open', 'assembled') AND expires < ?", now)
        ]

    def set_upload_state(
        self, upload_id: str, state: str, sha256: str | None = None, probe: dict[str, Any] | None = None
    ) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE uploads SET state = ?, sha256 = COALESCE(?, sha256), probe = COALESCE(?, probe) WHERE id = ?",
                (state, sha256, json.dumps(probe) if probe is not None else None, upload_id),
            )

    def put_part(self, upload_id: str, part: PartRecord) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO upload_parts (upload_id, number, size, sha256, etag) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(upload_id, number) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256,"
                " etag = excluded.etag",
                (upload_id, part.number, part.size, part.sha256, part.etag),
            )

    def parts(self, upload_id: str) -> list[PartRecord]:
        rows = self.query(
            "SELECT number, size, sha256, etag FROM upload_parts WHERE upload_id = ? ORDER BY number", upload_id
        )
        return [PartRecord(r["number"], r["size"], r["sha256"], r["etag"]) for r in rows]

    def delete_upload(self, upload_id: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))

    def upload_writer(self, upload_id: str) -> AbstractContextManager[bool]:
        """Whether this block is now the one writer of the upload, among every replica."""
        return self.exclusive(f"upload:{upload_id}")

    def exclusive(self, name: str) -> AbstractContextManager[bool]:
        """Whether this block now holds ``name`` alone, among every replica (nothing waits)."""
        return self.db.try_lock(f"dubbing-webui:{name}")

    # --------------------------------------------------- caps shared by replicas
    def take_slot(self, user: str, slot_id: str, cap: int, lease_s: float) -> int:
        """How many stream slots ``user`` held; when fewer than ``cap``, ``slot_id`` is now one more,
        held for ``lease_s`` unless renewed (slots of a replica that died run out so)."""
        now = time.time()
        with self.tx() as db:
            db.lock(f"dubbing-webui:slots:{user}")
            # only this user's rows: transactions of different users never touch the same rows
            db.execute('DELETE FROM stream_slots WHERE "user" = ? AND expires < ?', (user, now))
            held = int(db.query('SELECT COUNT(*) AS n FROM stream_slots WHERE "user" = ?', (user,))[0]["n"])
            if held < cap:
                db.execute(
                    'INSERT INTO stream_slots (id, "user", expires) VALUES (?, ?, ?)', (slot_id, user, now + lease_s)
                )
            return held

    def renew_slots(self, slot_ids: list[str], lease_s: float) -> None:
        if not slot_ids:
            return
        marks = ", ".join("?" * len(slot_ids))
        with self.tx() as db:
            db.execute(f"UPDATE stream_slots SET expires = ? WHERE id IN ({marks})", (time.time() + lease_s, *slot_ids))

    def drop_slot(self, slot_id: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM stream_slots WHERE id = ?", (slot_id,))

    def held_slots(self, user: str) -> int:
        rows = self.query('SELECT COUNT(*) AS n FROM stream_slots WHERE "user" = ? AND expires >= ?', user, time.time())
        return int(rows[0]["n"])

    def hit(self, key: str, count: int, window_s: float) -> float | None:
        """Count one action of ``key`` unless ``count`` were counted within ``window_s``; returns None
        when counted, else the seconds until the oldest leaves the window (nothing is counted then)."""
        now = time.time()
        with self.tx() as db:
            db.lock(f"dubbing-webui:rate:{key}")
            db.execute("DELETE FROM rate_hits WHERE key = ? AND at <= ?", (key, now - window_s))
            rows = db.query("SELECT at FROM rate_hits WHERE key = ? ORDER BY at", (key,))
            if len(rows) >= count:
                return float(rows[0]["at"]) + window_s - now
            db.execute("INSERT INTO rate_hits (key, at) VALUES (?, ?)", (key, now))
            return None


def _columns(db: Tx, kind: str, table: str) -> set[str]:
    """The table's columns, read inside the transaction ``db``."""
    if kind == "sqlite":
        return {r["name"] for r in db.query(f"PRAGMA table_info({table})")}
    rows = db.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?",
        (table,),
    )
    return {r["column_name"] for r in rows}
