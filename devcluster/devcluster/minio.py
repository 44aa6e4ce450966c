"""A real MinIO server for tests and the local cluster, built from its Go module.

Build: ``go install github.com/minio/minio@<MINIO_VERSION>`` with ``GOBIN`` set to
``${DUBBING_CACHE_DIR:-~/.cache/dubbing}/minio/<version>/bin`` (the module has no
replace directives, so ``go install pkg@version`` works). Cached by version: a
second build is a no-op; Go's own module and build caches make a rebuild fast.

Run: ``start_minio()`` / ``stop_minio()`` start and stop ``minio server`` on 127.0.0.1
(port 19000 by default; console on port+1), with a data directory, root user and
password, a pid file and a log file under ``${DUBBING_DEVCLUSTER_DIR:-<repo>/.devcluster}/minio``.

CLI: ``python -m devcluster.minio build|up|down|status|env``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import procs
from .paths import cache_dir, state_root

MODULE = "github.com/minio/minio"
#: The newest MinIO on the Go module proxy when pinned (2026-02-12, commit 7aac2a2c5b7c):
#: ``go list -m github.com/minio/minio@latest``. MinIO tags releases as RELEASE.* which are
#: not semver, so the module proxy only knows pseudo-versions.
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
MARKER = "minio"
DEFAULT_PORT = 19000
DEFAULT_USER = "dubbing"
DEFAULT_PASSWORD = "dubbing-secret-key"


def _release_fields(version: str) -> dict[str, str]:
    """Version strings MinIO reports (``minio --version``), from the pseudo-version's time and commit."""
    stamp, commit = version.split("-")[1:3]
    iso = f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}Z"
    return {
        "Version": iso,
        "ReleaseTag": "DEVELOPMENT." + iso.replace(":", "-"),
        "CommitID": commit,
        "ShortCommitID": commit[:12],
    }


def binary_dir(version: str = MINIO_VERSION) -> Path:
    return cache_dir() / "minio" / version / "bin"


def binary_path(version: str = MINIO_VERSION) -> Path:
    return binary_dir(version) / "minio"


def build(version: str = MINIO_VERSION, force: bool = False, quiet: bool = False) -> Path:
    """Build (or find) the MinIO binary of ``version``; return its path."""
    target = binary_path(version)
    if target.is_file() and os.access(target, os.X_OK) and not force:
        return target
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("go is not on PATH: install Go (1.24+) to build MinIO")
    target.parent.mkdir(parents=True, exist_ok=True)
    fields = _release_fields(version)
    ldflags = " ".join(f"-X {MODULE}/cmd.{name}={value}" for name, value in fields.items())
    env = {**os.environ, "GOBIN": str(target.parent), "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
    command = [go, "install", "-trimpath", f"-ldflags={ldflags}", f"{MODULE}@{version}"]
    if not quiet:
        print(f"building MinIO {version} (first time: several minutes) ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    result = subprocess.run(command, env=env, cwd=str(target.parent), capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or "")[-2000:] if quiet else ""
        raise RuntimeError(f"go install {MODULE}@{version} failed (exit {result.returncode}) {detail}")
    if not quiet:
        print(f"built {target} in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return target


@dataclass(frozen=True)
class MinioServer:
    endpoint: str  # host:port
    access_key: str
    secret_key: str
    data_dir: Path
    pid_file: Path
    log_file: Path
    pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def env(self) -> dict[str, str]:
        """The settings a stage (or the operator, or a test) needs to use this server."""
        return {
            "DUBBING_S3_ENDPOINT": self.endpoint,
            "DUBBING_S3_ACCESS_KEY": self.access_key,
            "DUBBING_S3_SECRET_KEY": self.secret_key,
            "DUBBING_S3_SECURE": "false",
        }


def state_dir() -> Path:
    return state_root() / "minio"


def _paths(port: int, data_dir: Path | None, run_dir: Path | None) -> tuple[Path, Path, Path]:
    base = run_dir or state_dir()
    return (data_dir or base / f"data-{port}", base / f"minio-{port}.pid", base / f"minio-{port}.log")


def _home(pid_file: Path, port: int) -> Path:
    return pid_file.parent / f"minio-{port}-home"


def healthy(endpoint: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{endpoint}/minio/health/live", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _ready(endpoint: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{endpoint}/minio/health/ready", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_minio(
    port: int = DEFAULT_PORT,
    data_dir: Path | None = None,
    user: str = DEFAULT_USER,
    password: str = DEFAULT_PASSWORD,
    run_dir: Path | None = None,
    host: str = "127.0.0.1",
    version: str = MINIO_VERSION,
    wait_seconds: float = 60.0,
    cors_origin: str | None = None,
) -> MinioServer:
    """Start ``minio server`` (building it first if needed) unless it already runs; wait until ready.
    ``cors_origin``: the one origin browsers may send requests from (unset: MinIO's default, any)."""
    binary = build(version)
    data, pid_file, log_file = _paths(port, Path(data_dir) if data_dir else None, Path(run_dir) if run_dir else None)
    data.mkdir(parents=True, exist_ok=True)
    # MinIO makes ~/.minio/certs/CAs at start even without TLS (and ~/.minio even with --certs-dir): its
    # home is a folder beside its pid file
    home = _home(pid_file, port)
    home.mkdir(parents=True, exist_ok=True)
    endpoint = f"{host}:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MINIO_")},
        "MINIO_ROOT_USER": user,
        "MINIO_ROOT_PASSWORD": password,
        "MINIO_BROWSER": "off",
        "MINIO_UPDATE": "off",
        "MINIO_CI_CD": "1",  # no interactive prompts, no colour
        "HOME": str(home),
        **({"MINIO_API_CORS_ALLOW_ORIGIN": cors_origin} if cors_origin else {}),
    }
    existing = procs.running_pid(pid_file, MARKER)
    if existing is None and healthy(endpoint):
        raise RuntimeError(f"something else already serves {endpoint}; choose another port")
    pid = procs.start(
        [str(binary), "server", "--quiet", "--address", endpoint, "--console-address", f"{host}:{port + 1}", str(data)],
        pid_file=pid_file,
        log_file=log_file,
        marker=MARKER,
        env=env,
    )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if procs.exited(pid):
            raise RuntimeError(f"minio exited at start; log {log_file}:\n{procs.tail(log_file)}")
        if _ready(endpoint):
            return MinioServer(endpoint, user, password, data, pid_file, log_file, pid)
        time.sleep(0.2)
    raise RuntimeError(
        f"minio not ready on {endpoint} after {wait_seconds:.0f} s; log {log_file}:\n{procs.tail(log_file)}"
    )


def stop_minio(
    port: int = DEFAULT_PORT, run_dir: Path | None = None, remove_data: bool = False, data_dir: Path | None = None
) -> bool:
    """Stop the server started on ``port``; True if it was running."""
    data, pid_file, _ = _paths(port, Path(data_dir) if data_dir else None, Path(run_dir) if run_dir else None)
    was_running = procs.stop(pid_file, MARKER)
    shutil.rmtree(_home(pid_file, port), ignore_errors=True)
    if remove_data:
        shutil.rmtree(data, ignore_errors=True)
    return was_running


def status(port: int = DEFAULT_PORT, run_dir: Path | None = None) -> dict:
    data, pid_file, log_file = _paths(port, None, Path(run_dir) if run_dir else None)
    pid = procs.running_pid(pid_file, MARKER)
    endpoint = f"127.0.0.1:{port}"
    return {
        "binary": str(binary_path()),
        "built": binary_path().is_file(),
        "version": MINIO_VERSION,
        "endpoint": endpoint,
        "pid": pid,
        "healthy": bool(pid) and healthy(endpoint),
        "dataDir": str(data),
        "log": str(log_file),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devcluster.minio", description="Build and run a local MinIO server."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="go install MinIO at the pinned version (cached)")
    b.add_argument("--force", action="store_true")
    for name, text in (
        ("up", "start the server"),
        ("down", "stop the server"),
        ("status", "is it running?"),
        ("env", "print DUBBING_S3_* for a shell"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--port", type=int, default=int(os.environ.get("DUBBING_MINIO_PORT", DEFAULT_PORT)))
        if name == "up":
            p.add_argument("--data-dir", type=Path)
            p.add_argument("--user", default=DEFAULT_USER)
            p.add_argument("--password", default=DEFAULT_PASSWORD)
        if name == "down":
            p.add_argument("--remove-data", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            print(build(force=args.force))
        elif args.command == "up":
            server = start_minio(args.port, args.data_dir, args.user, args.password)
            print(
                f"minio serving on http://{server.endpoint} (pid {server.pid}, data {server.data_dir}, log {server.log_file})"
            )
        elif args.command == "down":
            print("stopped" if stop_minio(args.port, remove_data=args.remove_data) else "not running")
        elif args.command == "status":
            print(json.dumps(status(args.port), indent=2))
        elif args.command == "env":
            server = MinioServer(f"127.0.0.1:{args.port}", DEFAULT_USER, DEFAULT_PASSWORD, Path(), Path(), Path())
            for key, value in server.env().items():
                print(f"export {key}={value}")
    except RuntimeError as error:
        print(f"minio: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
