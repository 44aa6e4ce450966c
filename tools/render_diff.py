#!/usr/bin/env python3
"""Render the chart as it is now and as it was at a git revision, and compare the objects.

    python tools/render_diff.py                 # working tree against HEAD
    python tools/render_diff.py --base 7a75a2b  # ... against any revision
    python tools/render_diff.py --list          # the value sets, then exit
    python tools/render_diff.py -v              # also name the random fields left out
    python tools/render_diff.py --derandomize   # fixed strings for rand*: compare every field

For a refactor of the templates (files moved, split or reordered) that must not change what is
installed. Each value set (the defaults, every charts/dubbing/ci/*-values.yaml of the working
tree, and the --set combinations below) is rendered by both charts with `helm template`; the
objects are matched by apiVersion/kind/namespace/name and compared as parsed YAML, so document
order, `# Source:` lines and other comments play no part. Values the chart draws at random
(generated Secret keys and the checksums over them) differ between two renders of the very same
chart: each side is rendered twice and the fields that change between its own two renders are
left out of the comparison and counted (-v lists them). The `deterministic` set gives every Secret
a value, so there nothing is left out; --derandomize instead compares copies of both charts whose
rand* calls are replaced by a fixed string, so every field is compared in every set. Exit status 1
on any difference, with a diff of the objects concerned.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = Path("charts/dubbing")

# Value sets beyond the defaults and ci/*-values.yaml: every switch that adds or drops objects.
EXTRA_SETS: dict[str, list[str]] = {
    "deterministic": [
        "--set",
        "minio.auth.secretKey=s3cr3t",
        "--set",
        "webui.admin.existingSecret=admin",
        "--set",
        "ntfy.url=https://ntfy.example.org",
        "--set",
        "ntfy.token=tok",
    ],
    "ingress-no-tls": ["--set", "webui.ingress.enabled=true", "--set", "webui.ingress.host=dub.example.org"],
    "servicemonitor-operator-off": ["--set", "metrics.serviceMonitor.enabled=true", "--set", "operator.enabled=false"],
    "webui-off": ["--set", "webui.enabled=false"],
    "operator-off": ["--set", "operator.enabled=false"],
    "minio-external-own-secret": [
        "--set",
        "minio.mode=external",
        "--set",
        "minio.external.endpoint=https://s3.example.com",
        "--set",
        "minio.auth.secretKey=s3cr3t",
        "--set",
        "webui.admin.existingSecret=admin",
    ],
    "redis-persistent-minio-ephemeral": [
        "--set",
        "redis.bundled.persistence.enabled=true",
        "--set",
        "minio.bundled.persistence.enabled=false",
    ],
    "no-persistence": [
        "--set",
        "webui.persistence.enabled=false",
        "--set",
        "modelCache.enabled=false",
        "--set",
        "minio.bundled.persistence.enabled=false",
    ],
    "existing-claims": [
        "--set",
        "webui.persistence.existingClaim=ui-data",
        "--set",
        "modelCache.existingClaim=models",
        "--set",
        "webui.persistence.accessModes={ReadWriteMany}",
    ],
    "model-cache-hostpath": ["--set", "modelCache.hostPath=/srv/models"],
    "no-service-accounts": [
        "--set",
        "operator.serviceAccount.create=false",
        "--set",
        "operator.serviceAccount.name=op",
        "--set",
        "webui.serviceAccount.create=false",
    ],
    "no-leader-election": ["--set", "operator.leaderElection.enabled=false", "--set", "operator.verbose=true"],
    "ntfy-existing-secret": [
        "--set",
        "ntfy.url=https://ntfy.example.org",
        "--set",
        "ntfy.existingSecret=ntfy",
        "--set",
        "ntfy.tokenKey=key",
    ],
    "overrides": [
        "--set",
        "fullnameOverride=dub",
        "--set",
        "imagePullSecrets[0].name=pull",
        "--set",
        "operator.podAnnotations.a=b",
        "--set",
        "webui.service.annotations.c=d",
        "--set",
        "operator.extraEnv[0].name=X",
        "--set",
        "operator.extraEnv[0].value=1",
        "--set",
        "webui.nodeSelector.disk=ssd",
        "--set",
        "operator.tolerations[0].operator=Exists",
        "--set",
        "webui.serviceAccount.annotations.e=f",
        "--set",
        "stages.resources.asr.limits.memory=8Gi",
    ],
}
RELEASE, NAMESPACE = "dubbing", "dubbing"
MASKED = "<differs between two renders of the same chart>"


def find_helm(given: str | None) -> str:
    if given or os.environ.get("DUBBING_HELM"):
        return given or os.environ["DUBBING_HELM"]
    proc = subprocess.run(["bash", str(REPO / "tools" / "build-helm.sh")], capture_output=True, text=True)
    if proc.returncode == 0:
        return proc.stdout.strip().splitlines()[-1]
    return shutil.which("helm") or sys.exit("no helm: pass --helm or set DUBBING_HELM")


def value_sets(chart: Path) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {"default": []}
    for path in sorted((chart / "ci").glob("*-values.yaml")):
        sets[path.name.removesuffix("-values.yaml")] = ["-f", str(path)]
    sets.update(EXTRA_SETS)
    return sets


def extract(base: str, into: Path) -> Path:
    """The chart directory as it was at `base`."""
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", base, str(CHART)], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into / CHART


RANDOM = re.compile(r"\b(randAlphaNum|randAlpha|randNumeric|randAscii)\s+(\$?[\w.]+)")


def derandomize(chart: Path, into: Path) -> Path:
    """A copy of the chart whose random strings are fixed ones of the same length."""
    shutil.copytree(chart, into)
    for path in (into / "templates").rglob("*"):
        if path.is_file():
            path.write_text(RANDOM.sub(r'repeat \2 "x"', path.read_text()))
    return into


def render(helm: str, chart: Path, args: list[str]) -> tuple[dict[tuple, Any] | None, str]:
    """Objects by (apiVersion, kind, namespace, name), or None and helm's message when it refuses."""
    env = dict(os.environ)
    for var, sub in (("HELM_CACHE_HOME", "cache"), ("HELM_CONFIG_HOME", "config"), ("HELM_DATA_HOME", "data")):
        env.setdefault(var, str(Path(tempfile.gettempdir()) / f"dubbing-helm-{os.getuid()}" / sub))
    proc = subprocess.run(
        [helm, "template", RELEASE, str(chart), "--namespace", NAMESPACE, *args],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        return None, proc.stderr.strip()
    objects: dict[tuple, Any] = {}
    for doc in yaml.safe_load_all(proc.stdout):
        if not doc:
            continue
        meta = doc.get("metadata", {})
        key = (doc.get("apiVersion"), doc.get("kind"), meta.get("namespace", ""), meta.get("name"))
        if key in objects:
            raise SystemExit(f"{chart}: {'/'.join(map(str, key))} rendered twice")
        objects[key] = doc
    return objects, ""


def volatile_paths(a: Any, b: Any, path: tuple = ()) -> set[tuple]:
    """Paths of the leaves that differ between two renders of one chart."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[tuple] = set()
        for k in a.keys() & b.keys():
            out |= volatile_paths(a[k], b[k], path + (k,))
        return out | {path + (k,) for k in a.keys() ^ b.keys()}
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return set().union(*(volatile_paths(x, y, path + (i,)) for i, (x, y) in enumerate(zip(a, b, strict=False))))
    return set() if a == b else {path}


def mask(doc: Any, paths: set[tuple]) -> Any:
    for path in paths:
        node = doc
        for part in path[:-1]:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                break
        else:
            if isinstance(node, dict) and path[-1] in node or isinstance(node, list) and path[-1] < len(node):
                node[path[-1]] = MASKED
    return doc


def render_twice(helm: str, chart: Path, args: list[str]) -> tuple[dict | None, str, dict[tuple, set[tuple]]]:
    first, err = render(helm, chart, args)
    if first is None:
        return None, err, {}
    second, _ = render(helm, chart, args)
    assert second is not None
    volatile = {key: volatile_paths(first[key], second.get(key)) for key in first}
    return first, "", {k: v for k, v in volatile.items() if v}


def label(key: tuple) -> str:
    api, kind, ns, name = key
    return f"{kind}/{name}" + (f" (ns {ns})" if ns and ns != NAMESPACE else "")


def compare(
    helm: str, old_chart: Path, new_chart: Path, name: str, args: list[str], verbose: bool = False
) -> tuple[bool, str]:
    old, old_err, old_vol = render_twice(helm, old_chart, args)
    new, new_err, new_vol = render_twice(helm, new_chart, args)
    if old is None or new is None:
        if old is None and new is None and old_err == new_err:
            return True, f"{name}: both refuse the values alike"
        return False, f"{name}: old refuses: {old_err or '-'}\n  new refuses: {new_err or '-'}"
    lines, ok = [], True
    for key in sorted(old.keys() - new.keys(), key=label):
        ok = False
        lines.append(f"  only in the old render: {label(key)}")
    for key in sorted(new.keys() - old.keys(), key=label):
        ok = False
        lines.append(f"  only in the new render: {label(key)}")
    masked: list[str] = []
    for key in sorted(old.keys() & new.keys(), key=label):
        paths = old_vol.get(key, set()) | new_vol.get(key, set())
        a, b = mask(old[key], paths), mask(new[key], paths)
        masked += [f"{label(key)} {'.'.join(map(str, p))}" for p in sorted(paths, key=str)]
        if a != b:
            ok = False
            diff = difflib.unified_diff(
                yaml.safe_dump(a, sort_keys=True).splitlines(),
                yaml.safe_dump(b, sort_keys=True).splitlines(),
                f"old {label(key)}",
                f"new {label(key)}",
                lineterm="",
            )
            lines.append("\n".join("    " + line for line in diff))
    common = len(old.keys() & new.keys())
    head = (
        f"{name}: {common} objects identical" if ok else f"{name}: DIFFERENT ({len(old)} old, {len(new)} new objects)"
    )
    if masked:
        head += f"; {len(masked)} random fields left out" + (f": {', '.join(masked)}" if verbose else "")
    return ok, "\n".join([head, *lines])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="git revision of the old chart (default HEAD)")
    parser.add_argument("--helm", help="helm binary (default $DUBBING_HELM, then tools/build-helm.sh)")
    parser.add_argument("--list", action="store_true", help="print the value sets and exit")
    parser.add_argument("--derandomize", action="store_true", help="compare copies with fixed strings for rand*")
    parser.add_argument("-v", "--verbose", action="store_true", help="name the random fields left out")
    opts = parser.parse_args()
    new_chart = REPO / CHART
    sets = value_sets(new_chart)
    if opts.list:
        for name, args in sets.items():
            print(name, " ".join(args))
        return 0
    helm = find_helm(opts.helm)
    with tempfile.TemporaryDirectory() as tmp:
        old_chart = extract(opts.base, Path(tmp) / "old")
        if opts.derandomize:
            old_chart = derandomize(old_chart, Path(tmp) / "old-fixed" / CHART.name)
            new_chart = derandomize(new_chart, Path(tmp) / "new-fixed" / CHART.name)
        results = [compare(helm, old_chart, new_chart, name, args, opts.verbose) for name, args in sets.items()]
    for _, text in results:
        print(text)
    failed = [text.split(":")[0] for ok, text in results if not ok]
    print(
        f"{len(results) - len(failed)}/{len(results)} value sets render the same objects as {opts.base}"
        + (" (rand* fixed in both)" if opts.derandomize else "")
        + (f"; different: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
