"""A throwaway PostgreSQL server on a loopback port: ``initdb`` into a temporary directory, then
``postgres`` listening on 127.0.0.1 only (no Unix socket), password authentication, no fsync.

The binaries come from Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``) or
from ``PATH``. PostgreSQL refuses to run as root, so under root the server runs as ``nobody``.
:meth:`PostgresServer.database` makes a fresh, empty database for one test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..ports import free_port
from . import Unavailable

USER = "dubbing"


def find_bin_dir() -> Path:
    """The directory holding ``initdb`` and ``postgres``: Debian's newest, else the one on PATH."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]), reverse=True)
    for initdb in debian:
        if (initdb.parent / "postgres").exists():
            return initdb.parent
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(on_path).parent
    raise Unavailable("PostgreSQL is not installed (apt-get install postgresql)")


@dataclass
class PostgresServer:
    workdir: Path
    port: int
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    proc: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    @staticmethod
    def _owner() -> tuple[str | None, str | None, list[str] | None]:
        """User, group and extra groups to run as: ``nobody`` under root (PostgreSQL refuses root)."""
        return ("nobody", "nogroup", []) if os.geteuid() == 0 else (None, None, None)

    def start(self) -> None:
        """Start it on its port (a no-op while it runs); return once it takes connections."""
        if self.proc is not None and self.proc.poll() is None:
            return
        bins = find_bin_dir()
        user, group, extra_groups = self._owner()
        data = self.workdir / "data"
        if not data.exists():  # the first start; a restart keeps the data
            pwfile = self.workdir / "pw"
            pwfile.write_text(self.password + "\n")
            if os.geteuid() == 0:
                shutil.chown(self.workdir, "nobody", "nogroup")
                shutil.chown(pwfile, "nobody", "nogroup")
            subprocess.run(
                [str(bins / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256", f"--pwfile={pwfile}",
                 "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                check=True, capture_output=True, user=user, group=group, extra_groups=extra_groups,
            )  # fmt: skip
            pwfile.unlink()
        with (self.workdir / "postgres.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [str(bins / "postgres"), "-D", str(data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=200", "-c", "shared_buffers=32MB"],
                stdout=log, stderr=subprocess.STDOUT, user=user, group=group, extra_groups=extra_groups,
            )  # fmt: skip
        self._wait()

    def _wait(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("postgres exited:\n" + (self.workdir / "postgres.log").read_text()[-3000:])
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise AssertionError("postgres did not answer:\n" + (self.workdir / "postgres.log").read_text()[-3000:])

    def database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: clients still connected are cut
                try:
                    self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
            self.proc = None


@contextmanager
def postgres() -> Iterator[PostgresServer]:
    """A server on a free port in a temporary directory, removed with everything in it afterwards."""
    find_bin_dir()
    workdir = Path(tempfile.mkdtemp(prefix="postgres-"))
    server = PostgresServer(workdir, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
