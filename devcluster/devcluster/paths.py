"""Where the development cluster keeps its binaries and its running state.

* Binaries: ``${DUBBING_CACHE_DIR:-~/.cache/dubbing}/k8s/<version>/bin/``.
* State: ``${DUBBING_DEVCLUSTER_DIR:-<repo>/.devcluster}`` holding the admin
  ``kubeconfig``, ``pki/``, ``logs/``, ``pids/``, ``etcd-data/`` and
  ``nodes/<name>/`` (one directory per development kubelet).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent  # devcluster/: this package, its pyproject.toml and the Go module
REPO_ROOT = PROJECT_DIR.parent
K8S_MODULE_DIR = PROJECT_DIR / "k8s"
BUILD_SCRIPT = K8S_MODULE_DIR / "build-k8s.sh"


def k8s_version(go_mod: Path = K8S_MODULE_DIR / "go.mod") -> str:
    """The k8s.io/kubernetes version pinned in the build module's go.mod."""
    match = re.search(r"^require\s+k8s\.io/kubernetes\s+(v\S+)", go_mod.read_text(), re.MULTILINE)
    if not match:
        raise ValueError(f"no 'require k8s.io/kubernetes vX.Y.Z' line in {go_mod}")
    return match.group(1)


def cache_dir() -> Path:
    root = os.environ.get("DUBBING_CACHE_DIR")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "dubbing"


def bin_dir(version: str | None = None) -> Path:
    return cache_dir() / "k8s" / (version or k8s_version()) / "bin"


def state_root() -> Path:
    root = os.environ.get("DUBBING_DEVCLUSTER_DIR")
    return Path(root).expanduser().resolve() if root else REPO_ROOT / ".devcluster"


@dataclass(frozen=True)
class StatePaths:
    """The files and directories of one development cluster's running state."""

    root: Path

    @classmethod
    def default(cls) -> StatePaths:
        return cls(state_root())

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd-data"

    @property
    def nodes(self) -> Path:
        return self.root / "nodes"

    def component_kubeconfig(self, component: str) -> Path:
        return self.root / f"{component}.kubeconfig"

    def pid_file(self, process: str) -> Path:
        return self.pids / f"{process}.pid"

    def log_file(self, process: str) -> Path:
        return self.logs / f"{process}.log"

    def node_dir(self, node: str) -> Path:
        return self.nodes / node

    def make_dirs(self) -> None:
        for d in (self.root, self.pki, self.logs, self.pids, self.etcd_data, self.nodes):
            d.mkdir(parents=True, exist_ok=True)
        self.etcd_data.chmod(0o700)
