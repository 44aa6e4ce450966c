"""Fixtures for the chart tests: the pinned Helm CLI and a renderer."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "dubbing"
CI_VALUES = CHART / "ci"


@dataclass
class Helm:
    path: str

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 300,
        kubeconfig: Path | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        # Keep helm's own state out of $HOME and away from any ambient cluster.
        for var, sub in (("HELM_CACHE_HOME", "cache"), ("HELM_CONFIG_HOME", "config"), ("HELM_DATA_HOME", "data")):
            env.setdefault(var, str(Path(tempfile.gettempdir()) / f"dubbing-helm-{os.getuid()}" / sub))
        if kubeconfig is not None:
            env["KUBECONFIG"] = str(kubeconfig)
        proc = subprocess.run([self.path, *args], capture_output=True, text=True, timeout=timeout, env=env, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def template(self, *value_args: str, namespace: str = "dubbing", release: str = "dubbing") -> list[dict[str, Any]]:
        out = self.run("template", release, str(CHART), "--namespace", namespace, *value_args).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]


def _find_or_build_helm() -> str:
    given = os.environ.get("DUBBING_HELM")
    if given:
        return given
    try:
        proc = subprocess.run([str(REPO / "tools" / "build-helm.sh")], capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        pytest.fail("building helm took more than 30 minutes")
    if proc.returncode == 0:
        return proc.stdout.strip().splitlines()[-1]
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    pytest.fail(f"no helm: tools/build-helm.sh failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


@pytest.fixture(scope="session")
def helm() -> Helm:
    return Helm(_find_or_build_helm())


def values_args(name: str) -> list[str]:
    """`-f charts/dubbing/ci/<name>-values.yaml`, or nothing for the defaults."""
    return [] if name == "default" else ["-f", str(CI_VALUES / f"{name}-values.yaml")]


VALUE_SETS = ["default", "external", "ingress", "servicemonitor", "gpu", "namespaced", "e2e-kind", "replicas"]
