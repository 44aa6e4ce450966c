"""Local processes standing in for containers.

A container is one process group started in its own session; with root and
`unshare` it also gets a private mount namespace in which the launcher
bind-mounts its volumes. stdout and stderr are pumped line by line into the
container's log file. Image names map to local bin directories (an image map).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from devcluster.kubelet_logs import LogWriter
from devcluster.kubelet_status import exit_code_of
from devcluster.kubelet_volumes import Mount
from devcluster.paths import REPO_ROOT

log = logging.getLogger("devkubelet.runtime")

LAUNCHER = str(Path(__file__).with_name("kubelet_launch.py"))
BASE_ENV_KEYS = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


@dataclass(frozen=True)
class ImageEntry:
    """What an image runs with locally: a bin directory first in PATH, extra env, default command."""

    bin_dir: str
    env: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    working_dir: str = ""


def default_bin_dir() -> str:
    return os.path.dirname(sys.executable)


def load_image_map(source: str | None) -> dict[str, ImageEntry]:
    """Parse an image map: a path to a JSON/YAML file, or inline JSON.

    Keys are image-name prefixes; a value is a bin directory or
    `{bin: dir, env: {...}, command: [...], workingDir: dir}`.
    """
    if not source:
        return {}
    text = Path(source).read_text() if not source.lstrip().startswith("{") else source
    raw = yaml.safe_load(text) or {}
    out: dict[str, ImageEntry] = {}
    for prefix, value in raw.items():
        if isinstance(value, str):
            out[prefix] = ImageEntry(bin_dir=value)
        else:
            out[prefix] = ImageEntry(
                bin_dir=value.get("bin") or default_bin_dir(),
                env=dict(value.get("env") or {}),
                command=tuple(value.get("command") or ()),
                working_dir=value.get("workingDir", ""),
            )
    return out


def image_entry(image: str, image_map: Mapping[str, ImageEntry]) -> ImageEntry:
    """The longest image-map prefix that matches the image; else this repo's venv."""
    matches = [p for p in image_map if image.startswith(p)]
    if not matches:
        return ImageEntry(bin_dir=default_bin_dir())
    return image_map[max(matches, key=len)]


def apiserver_service_env(base_url: str) -> dict[str, str]:
    """The `kubernetes` Service variables a kubelet gives every container, pointing at the real apiserver.

    There is no service network (no kube-proxy) in the development cluster, so in-cluster clients
    are sent to the apiserver's own address instead of the Service's cluster IP.
    """
    parsed = urlsplit(base_url)
    host = parsed.hostname or "127.0.0.1"
    port = str(parsed.port or (443 if parsed.scheme == "https" else 80))
    return {
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": port,
        "KUBERNETES_SERVICE_PORT_HTTPS": port,
        "KUBERNETES_PORT": f"tcp://{host}:{port}",
    }


def base_env(
    entry: ImageEntry, pod_name: str, host_env: Mapping[str, str], apiserver_url: str | None = None
) -> dict[str, str]:
    """What every container starts with before its spec's env: PATH with the image's bin dir first."""
    env = {k: host_env[k] for k in BASE_ENV_KEYS if k in host_env}
    host_path = host_env.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env["PATH"] = f"{entry.bin_dir}:{host_path}"
    env["HOSTNAME"] = pod_name
    if apiserver_url:
        env.update(apiserver_service_env(apiserver_url))
    env.update(entry.env)
    return env


def script_interpreter(path: str) -> str | None:
    """The interpreter named by a script's `#!` line (e.g. a console script's venv python), if any."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode(errors="replace").split()
    if not words:
        return None
    if os.path.basename(words[0]) == "env" and len(words) > 1:
        return shutil.which(words[1])
    return words[0]


CHECKOUT = str(REPO_ROOT)
"""The code the development images run (the editable installs point here)."""


def outermost_dirs(paths: list[str]) -> list[str]:
    """Absolute directories among `paths`, without those inside another one, in first-seen order."""
    dirs = [os.path.normpath(p) for p in paths if p and os.path.isabs(p)]
    kept: list[str] = []
    for path in sorted(set(dirs), key=len):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return [p for p in dict.fromkeys(dirs) if p in kept]


def image_paths(entry: ImageEntry) -> list[str]:
    """The host paths a development image consists of: its environment, the interpreter, the code.

    A volume mounted over one of them (a `/tmp` emptyDir over a checkout under /tmp)
    would hide the image; the launcher binds them back where they were.
    """
    libraries = sysconfig.get_paths()
    candidates = [
        os.path.dirname(entry.bin_dir),
        sys.prefix,
        sys.base_prefix,
        CHECKOUT,
        libraries["stdlib"],
        libraries["purelib"],
        libraries["platlib"],
    ]
    return [p for p in outermost_dirs(candidates) if os.path.isdir(p)]


def mounts_supported(probe_dir: Path | None = None) -> tuple[bool, str]:
    """Whether containers get their own root and volumes; with `probe_dir`, proven by building one."""
    if os.geteuid() != 0:
        return False, "the kubelet is not running as root"
    if shutil.which("unshare") is None:
        return False, "unshare(1) is not installed"
    if probe_dir is None:
        return True, ""
    cmd = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        sys.executable,
        "-I",
        LAUNCHER,
        "--probe",
        str(probe_dir),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cannot build a container root: {exc}"
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    if proc.returncode != 0:
        return False, f"cannot build a container root: {(proc.stderr or proc.stdout).strip()[-300:]}"
    return True, ""


def proc_start_ticks(pid: int) -> str:
    """Start time of a process (clock ticks since boot), to recognise it again after a kubelet restart."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


@dataclass
class LaunchSpec:
    argv: list[str]
    env: dict[str, str]
    mounts: list[Mount]
    working_dir: str
    uid: int | None
    gid: int | None
    supplemental_groups: list[int]
    use_mount_namespace: bool
    image_paths: list[str] = field(default_factory=list)


class ContainerProcess:
    """One running container: its process group, log pumps and exit facts."""

    def __init__(self, spec: LaunchSpec, workdir: Path, log_path: Path, on_exit: Any = None) -> None:
        self.spec = spec
        self.workdir = workdir
        self.log_path = log_path
        self.on_exit = on_exit
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.exit_code: int | None = None
        self._done = threading.Event()

    @property
    def pid_file(self) -> Path:
        return self.workdir / "pid.json"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        spec_file = self.workdir / "launch.json"
        spec_file.write_text(
            json.dumps(
                {
                    "argv": self.spec.argv,
                    "env": self.spec.env,
                    "mount": self.spec.use_mount_namespace,
                    "mounts": [m.as_dict() for m in self.spec.mounts],
                    "stateDir": str(self.workdir / "rootfs"),
                    "imagePaths": self.spec.image_paths,
                    "workingDir": self.spec.working_dir,
                    "uid": self.spec.uid,
                    "gid": self.spec.gid,
                    "supplementalGroups": self.spec.supplemental_groups,
                }
            )
        )
        os.chmod(spec_file, 0o600)
        cmd = [sys.executable, "-I", LAUNCHER, str(spec_file)]
        if self.spec.use_mount_namespace:
            cmd = ["unshare", "--mount", "--propagation", "private", "--", *cmd]
        writer = LogWriter(self.log_path)
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
        self.started_at = datetime.now(UTC)
        self.pid_file.write_text(json.dumps({"pid": self.proc.pid, "start": proc_start_ticks(self.proc.pid)}))
        pumps = [
            threading.Thread(target=writer.pump, args=(name, pipe), daemon=True, name=f"log-{name}")
            for name, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr))
        ]
        for pump in pumps:
            pump.start()
        threading.Thread(target=self._wait, args=(writer, pumps), daemon=True, name="wait").start()

    def _wait(self, writer: LogWriter, pumps: list[threading.Thread]) -> None:
        assert self.proc is not None
        code = self.proc.wait()
        self.finished_at = datetime.now(UTC)
        for pump in pumps:  # a leftover child may hold the pipe open; don't wait for it forever
            pump.join(timeout=2)
        writer.close()
        self.exit_code = exit_code_of(code)
        self.pid_file.unlink(missing_ok=True)
        self._done.set()
        if self.on_exit:
            self.on_exit()

    @property
    def running(self) -> bool:
        return self.proc is not None and not self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def signal(self, sig: int) -> None:
        if self.proc is None or self._done.is_set():
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass


def stop_all(processes: list[ContainerProcess], grace: float) -> None:
    """SIGTERM every process group, wait up to the grace period, then SIGKILL what is left."""
    live = [p for p in processes if p.running]
    for p in live:
        p.signal(signal.SIGTERM)
    deadline = time.monotonic() + max(grace, 0)
    for p in live:
        p.wait(max(0.0, deadline - time.monotonic()))
    for p in live:
        if p.running:
            p.signal(signal.SIGKILL)
    for p in live:
        p.wait(10)


def kill_orphan(pid_file: Path) -> bool:
    """Kill a process group a previous kubelet left behind, if it is still the same process."""
    try:
        info = json.loads(pid_file.read_text())
    except (OSError, ValueError):
        return False
    pid = int(info.get("pid", 0))
    alive = pid > 0 and info.get("start") and proc_start_ticks(pid) == info["start"]
    if alive:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            alive = False
    pid_file.unlink(missing_ok=True)
    return bool(alive)


def _can(st: os.stat_result, uid: int, gid: int, groups: list[int], bit: int) -> bool:
    """Whether uid/gid may use `bit` (1 = x, 4 = r) on a file with this stat."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & (bit << 6))
    if st.st_gid == gid or st.st_gid in groups:
        return bool(st.st_mode & (bit << 3))
    return bool(st.st_mode & bit)


def executable_by(path: str, uid: int, gid: int, groups: list[int]) -> str:
    """'' when uid can execute `path` and the interpreter its `#!` line names, else the first obstacle."""
    obstacle = _file_executable_by(path, uid, gid, groups)
    interpreter = None if obstacle else script_interpreter(path)
    if interpreter:
        return _file_executable_by(interpreter, uid, gid, groups)
    return obstacle


def _file_executable_by(path: str, uid: int, gid: int, groups: list[int]) -> str:
    """'' when uid can execute `path` (every directory on the way searchable), else the first obstacle."""
    for candidate in dict.fromkeys([os.path.abspath(path), os.path.realpath(path)]):
        parts = Path(candidate).parts
        for i in range(1, len(parts)):
            directory = os.path.join(*parts[:i])
            try:
                st = os.stat(directory)
            except OSError:
                return directory
            if not _can(st, uid, gid, groups, 1):
                return directory
    try:
        st = os.stat(path)
    except OSError:
        return path
    return "" if _can(st, uid, gid, groups, 1) else path
