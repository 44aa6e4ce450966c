#!/usr/bin/env python3
"""Release hygiene: what a release must not contain, and what must agree.

    python tools/check_release_hygiene.py            # this repository (its git-tracked files)
    python tools/check_release_hygiene.py --root DIR # another tree (tracked files if it is a git work tree, else all files)

Problems are printed one a line as `KIND path: message`; exit status 1 if there is any.

  artifact   build outputs: dist/, build/, *.egg-info, wheels, sdists, packaged charts, object files,
             compiled binaries (ELF/Mach-O/PE headers)
  media      audio and video files (*.mp4, *.wav, ...): tests synthesise theirs at run time
  weights    model weights (*.bin, *.onnx, *.pth, *.pt, *.th, *.ckpt, *.safetensors, ...): they live
             in the model cache volume or come from package registries
  cache      caches and local state (__pycache__, .pytest_cache, .venv, .devcluster, ...)
  secret     private keys, credential files, token-shaped strings (cloud keys, GitHub/HF/ntfy tokens),
             non-empty secrets in the chart's default values
  large      any other tracked file over 2 MiB
  version    pyproject version, Chart version, Chart appVersion and the chart's image tags disagree;
             a program's own pyproject.toml (operator/, webui/, devcluster/) has another version or
             does not pin the core to it (dubbing==<version>)
  crd        crds/ and charts/dubbing/crds/ differ

A path may be exempted by a glob in `.hygiene-allow` at the root (one a line, `#` comments), which
a reviewer sees in the diff.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 2 * 1024 * 1024

MEDIA = {
    ".mp4",
    ".mkv",
    ".mov",
    ".webm",
    ".avi",
    ".m4v",
    ".wav",
    ".mp3",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".m4a",
    ".aac",
    ".wma",
}
WEIGHTS = {
    ".bin",
    ".onnx",
    ".pth",
    ".pt",
    ".th",
    ".ckpt",
    ".safetensors",
    ".gguf",
    ".ggml",
    ".h5",
    ".tflite",
    ".pb",
    ".msgpack",
    ".npz",
}
ARTIFACT_SUFFIXES = {".whl", ".tgz", ".o", ".a", ".so", ".dylib", ".dll", ".exe", ".pyc", ".pyo", ".class", ".jar"}
ARTIFACT_DIRS = {"dist", "build", "node_modules", "_output"}
CACHE_DIRS = {
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".devcluster",
    ".cache",
    ".ipynb_checkpoints",
    ".hypothesis",
}
SECRET_NAMES = (
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_ed25519*",
    "id_ecdsa*",
    ".env",
    "*.env",
    "kubeconfig",
    "*.kubeconfig",
    ".netrc",
    "credentials.json",
)
SECRET_NAME_OK = ("*.env.example", "*.pem.example")
BINARY_MAGIC = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"MZ")

# Assembled from parts so that this file does not match its own patterns.
_BEGIN, _END = "-----" + "BEGIN", "KEY" + "-----"
TOKEN_PATTERNS = {
    "private key": re.compile(_BEGIN + r" (?:[A-Z0-9]+ )*PRIVATE " + _END),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b"),
    "Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),
    "ntfy access token": re.compile(r"\btk_[a-z0-9]{29}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
}


@dataclass(frozen=True)
class Problem:
    kind: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind} {self.path}: {self.message}"


def list_files(root: Path) -> list[str]:
    """Tracked files of a git work tree (what a release is made of), else every file under root."""
    proc = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True)
    top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if proc.returncode == 0 and top.returncode == 0 and Path(top.stdout.strip()).resolve() == root.resolve():
        return sorted(p for p in proc.stdout.decode().split("\0") if p and (root / p).is_file())
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts
    )


def load_allow(root: Path) -> list[str]:
    path = root / ".hygiene-allow"
    if not path.is_file():
        return []
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines() if line.split("#", 1)[0].strip()]


def check_files(root: Path, files: list[str]) -> list[Problem]:
    allow = load_allow(root)
    problems: list[Problem] = []
    for rel in files:
        if any(fnmatch.fnmatch(rel, pattern) for pattern in allow):
            continue
        path = root / rel
        parts = Path(rel).parts
        name = parts[-1]
        suffix = Path(name).suffix.lower()
        dirs = set(parts[:-1])
        if dirs & CACHE_DIRS:
            problems.append(
                Problem("cache", rel, f"inside a cache/state directory ({', '.join(sorted(dirs & CACHE_DIRS))})")
            )
            continue
        if dirs & ARTIFACT_DIRS or any(d.endswith(".egg-info") for d in dirs):
            problems.append(Problem("artifact", rel, "inside a build output directory"))
            continue
        if suffix in MEDIA:
            problems.append(Problem("media", rel, f"{suffix} media file; generate test media at run time"))
            continue
        if suffix in WEIGHTS:
            problems.append(Problem("weights", rel, f"{suffix} model weights; they belong in the model cache volume"))
            continue
        if suffix in ARTIFACT_SUFFIXES or name.endswith((".tar.gz", ".tar.bz2", ".tar.xz")):
            problems.append(Problem("artifact", rel, f"build artifact ({suffix or name})"))
            continue
        if any(fnmatch.fnmatch(name, pat) for pat in SECRET_NAMES) and not any(
            fnmatch.fnmatch(name, ok) for ok in SECRET_NAME_OK
        ):
            problems.append(Problem("secret", rel, "credential-shaped file name"))
            continue
        try:
            size = path.stat().st_size
            with path.open("rb") as fh:
                head = fh.read(4)
        except OSError as err:
            problems.append(Problem("artifact", rel, f"unreadable: {err}"))
            continue
        if any(head.startswith(m) for m in BINARY_MAGIC) and not rel.endswith((".py", ".md", ".txt")):
            problems.append(Problem("artifact", rel, "compiled binary"))
            continue
        if size > MAX_BYTES:
            problems.append(Problem("large", rel, f"{size / 1048576:.1f} MiB (limit {MAX_BYTES // 1048576} MiB)"))
            continue
        try:
            text = path.read_text(errors="strict")
        except (UnicodeDecodeError, OSError):
            continue
        for label, pattern in TOKEN_PATTERNS.items():
            if pattern.search(text):
                line = text.count("\n", 0, pattern.search(text).start()) + 1
                problems.append(Problem("secret", f"{rel}:{line}", f"looks like a {label}"))
    return problems


def pyproject_version(root: Path) -> str | None:
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    import tomllib

    return tomllib.loads(path.read_text()).get("project", {}).get("version")


def check_subprojects(root: Path, version: str | None) -> list[Problem]:
    """Each program's pyproject.toml one folder down: the core's version, and the core pinned to it."""
    import tomllib

    problems: list[Problem] = []
    if version is None:
        return problems
    for path in sorted(root.glob("*/pyproject.toml")):
        rel = str(path.relative_to(root))
        project = tomllib.loads(path.read_text()).get("project", {})
        if project.get("version") != version:
            problems.append(
                Problem("version", rel, f"version {project.get('version')} != the core's version {version}")
            )
        pins = [
            re.sub(r"\s+", "", dep)
            for dep in project.get("dependencies", [])
            if re.match(r"^dubbing\s*(\[|[<>=!~;]|$)", dep)
        ]
        if pins != [f"dubbing=={version}"]:
            problems.append(
                Problem("version", rel, f"must depend on the core as dubbing=={version}, found {pins or 'nothing'}")
            )
    return problems


def check_versions(root: Path, chart_dir: Path) -> list[Problem]:
    problems: list[Problem] = []
    version = pyproject_version(root)
    problems += check_subprojects(root, version)
    chart_file = chart_dir / "Chart.yaml"
    if version is None:
        problems.append(Problem("version", "pyproject.toml", "no [project].version"))
    if not chart_file.is_file():
        problems.append(Problem("version", str(chart_file.relative_to(root)), "missing"))
        return problems
    chart = yaml.safe_load(chart_file.read_text()) or {}
    rel_chart = str(chart_file.relative_to(root))
    for key in ("version", "appVersion"):
        value = chart.get(key)
        if not isinstance(value, str):
            problems.append(Problem("version", rel_chart, f"{key} must be a quoted string, found {value!r}"))
        elif version is not None and value != version:
            problems.append(Problem("version", rel_chart, f"{key} {value} != pyproject version {version}"))
    values_file = chart_dir / "values.yaml"
    if values_file.is_file():
        values = yaml.safe_load(values_file.read_text()) or {}
        rel_values = str(values_file.relative_to(root))
        tags = {
            "image.tag": (values.get("image") or {}).get("tag"),
            "operator.image.tag": ((values.get("operator") or {}).get("image") or {}).get("tag"),
            "webui.image.tag": ((values.get("webui") or {}).get("image") or {}).get("tag"),
            "stages.cpuImage.tag": ((values.get("stages") or {}).get("cpuImage") or {}).get("tag"),
            "stages.gpuImage.tag": ((values.get("stages") or {}).get("gpuImage") or {}).get("tag"),
        }
        for key, tag in tags.items():
            if tag not in (None, "") and str(tag) != version:
                problems.append(
                    Problem(
                        "version", rel_values, f"{key} {tag} != version {version} (leave it empty to follow appVersion)"
                    )
                )
        secrets = {
            "minio.auth.secretKey": ((values.get("minio") or {}).get("auth") or {}).get("secretKey"),
            "ntfy.token": (values.get("ntfy") or {}).get("token"),
        }
        for key, value in secrets.items():
            if value:
                problems.append(
                    Problem("secret", rel_values, f"{key} has a default value; defaults must not carry credentials")
                )
    return problems


def check_crds(root: Path, chart_dir: Path) -> list[Problem]:
    problems: list[Problem] = []
    top, inchart = root / "crds", chart_dir / "crds"
    top_files = {p.name: p for p in top.glob("*.yaml")} if top.is_dir() else {}
    chart_files = {p.name: p for p in inchart.glob("*.yaml")} if inchart.is_dir() else {}
    if not top_files:
        problems.append(Problem("crd", "crds/", "no CRD files"))
    for name in sorted(set(top_files) | set(chart_files)):
        if name not in chart_files:
            problems.append(
                Problem("crd", f"crds/{name}", "missing from the chart's crds/ (run python -m dubbing.api.crd --write)")
            )
        elif name not in top_files:
            problems.append(Problem("crd", str(chart_files[name].relative_to(root)), "not in crds/"))
        elif top_files[name].read_bytes() != chart_files[name].read_bytes():
            problems.append(
                Problem("crd", f"crds/{name}", "differs from the chart's copy (run python -m dubbing.api.crd --write)")
            )
    return problems


def run(root: Path) -> list[Problem]:
    chart_dir = root / "charts" / "dubbing"
    return check_files(root, list_files(root)) + check_versions(root, chart_dir) + check_crds(root, chart_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    problems = run(root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} release hygiene problem(s) in {root}", file=sys.stderr)
        return 1
    print(f"release hygiene: ok ({root})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
