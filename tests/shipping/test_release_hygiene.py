"""tools/check_release_hygiene.py: the repository passes, and a bad tree has each problem caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tools import check_release_hygiene as hygiene

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "check_release_hygiene.py"


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _good_tree(root: Path) -> None:
    (root / "charts" / "dubbing" / "crds").mkdir(parents=True)
    (root / "crds").mkdir()
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    shutil.copy(REPO / "charts" / "dubbing" / "Chart.yaml", root / "charts" / "dubbing" / "Chart.yaml")
    shutil.copy(REPO / "charts" / "dubbing" / "values.yaml", root / "charts" / "dubbing" / "values.yaml")
    for crd in (REPO / "crds").glob("*.yaml"):
        shutil.copy(crd, root / "crds" / crd.name)
        shutil.copy(crd, root / "charts" / "dubbing" / "crds" / crd.name)
    (root / "README.md").write_text("hello\n")


def test_repository_passes():
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_good_copy_passes(tmp_path):
    _good_tree(tmp_path)
    assert hygiene.run(tmp_path) == []


def test_bad_tree_each_problem_caught(tmp_path):
    root = tmp_path
    _good_tree(root)
    bad_files = {
        "dist/dubbing-0.1.0-py3-none-any.whl": b"PK",
        "dubbing.egg-info/PKG-INFO": b"Name: dubbing",
        "charts/dubbing-0.1.0.tgz": b"\x1f\x8b",
        "tools/helm": b"\x7fELF\x02\x01\x01" + b"\0" * 64,
        "samples/talk.mp4": b"\0\0\0 ftypisom",
        "tests/data/voice.wav": b"RIFF....WAVE",
        "models/xtts/model.pth": b"\x80\x02",
        "models/whisper/model.bin": b"\0",
        "models/nmt.safetensors": b"{}",
        "models/demucs.th": b"\0",
        "dubbing/__pycache__/cli.cpython-311.pyc": b"\0",
        ".pytest_cache/v/cache/lastfailed": b"{}",
        "deploy/id_rsa": b"key",
        "notes/keys.txt": ("-----BEGIN " + "RSA PRIVATE KEY-----\nMIIB\n").encode(),
        "config/settings.py": ("GITHUB = 'ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'\n").encode(),
        "config/ntfy.yaml": ("token: tk_" + "abcdefghijklmnopqrstuvwxyz012\n").encode(),
        "big/blob.txt": b"x" * (hygiene.MAX_BYTES + 1),
    }
    for rel, data in bad_files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    # Versions drift: chart version bumped alone, an image tag pinned to another version, a default secret.
    chart = root / "charts" / "dubbing" / "Chart.yaml"
    chart.write_text(chart.read_text().replace("version: 0.1.0", "version: 0.2.0"))
    values = root / "charts" / "dubbing" / "values.yaml"
    doc = yaml.safe_load(values.read_text())
    doc["operator"]["image"]["tag"] = "0.0.9"
    doc["ntfy"]["token"] = "s3cr3t-token"
    values.write_text(yaml.safe_dump(doc, sort_keys=False))
    # The chart's CRD copy edited by hand.
    chart_crd = next((root / "charts" / "dubbing" / "crds").glob("*.yaml"))
    chart_crd.write_text(chart_crd.read_text() + "# edited\n")
    _git(root, "init", "-q")
    _git(root, "add", "-A")

    problems = hygiene.run(root)
    by_path = {}
    for p in problems:
        by_path.setdefault(p.path.split(":")[0], set()).add(p.kind)
    expected = {
        "dist/dubbing-0.1.0-py3-none-any.whl": "artifact",
        "dubbing.egg-info/PKG-INFO": "artifact",
        "charts/dubbing-0.1.0.tgz": "artifact",
        "tools/helm": "artifact",
        "samples/talk.mp4": "media",
        "tests/data/voice.wav": "media",
        "models/xtts/model.pth": "weights",
        "models/whisper/model.bin": "weights",
        "models/nmt.safetensors": "weights",
        "models/demucs.th": "weights",
        "dubbing/__pycache__/cli.cpython-311.pyc": "cache",
        ".pytest_cache/v/cache/lastfailed": "cache",
        "deploy/id_rsa": "secret",
        "notes/keys.txt": "secret",
        "config/settings.py": "secret",
        "config/ntfy.yaml": "secret",
        "big/blob.txt": "large",
    }
    report = "\n".join(map(str, problems))
    for rel, kind in expected.items():
        assert kind in by_path.get(rel, set()), f"{rel}: expected a {kind} problem\n{report}"
    messages = [str(p) for p in problems]
    assert any(p.kind == "version" and "version 0.2.0 != pyproject version 0.1.0" in p.message for p in problems), (
        report
    )
    assert any(p.kind == "version" and "operator.image.tag 0.0.9" in p.message for p in problems), report
    assert any(p.kind == "secret" and "ntfy.token" in p.message for p in problems), report
    assert any(p.kind == "crd" and "differs" in p.message for p in problems), report
    # Nothing in the good part of the tree is reported.
    assert not any(m.startswith(("artifact README", "secret pyproject")) for m in messages)

    proc = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "media samples/talk.mp4" in proc.stdout


def test_untracked_files_are_not_part_of_a_release(tmp_path):
    _good_tree(tmp_path)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    (tmp_path / "scratch.wav").write_bytes(b"RIFF")  # present on disk, never added
    assert hygiene.run(tmp_path) == []


def test_each_program_follows_the_core_version(tmp_path):
    _good_tree(tmp_path)
    for program in ("operator", "webui", "devcluster"):
        (tmp_path / program).mkdir()
        shutil.copy(REPO / program / "pyproject.toml", tmp_path / program / "pyproject.toml")
    assert hygiene.run(tmp_path) == []
    operator = tmp_path / "operator" / "pyproject.toml"
    operator.write_text(operator.read_text().replace('version = "0.1.0"', 'version = "0.2.0"', 1))
    webui = tmp_path / "webui" / "pyproject.toml"
    webui.write_text(webui.read_text().replace('"dubbing==0.1.0"', '"dubbing>=0.1"'))
    report = {(p.path, p.kind, p.message) for p in hygiene.run(tmp_path)}
    assert ("operator/pyproject.toml", "version", "version 0.2.0 != the core's version 0.1.0") in report, report
    assert (
        "webui/pyproject.toml",
        "version",
        "must depend on the core as dubbing==0.1.0, found ['dubbing>=0.1']",
    ) in report, report
    assert len(report) == 2, report


def test_allow_file_exempts_a_reviewed_path(tmp_path):
    _good_tree(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "demo.mp3").write_bytes(b"ID3")
    assert [p.kind for p in hygiene.run(tmp_path)] == ["media"]
    (tmp_path / ".hygiene-allow").write_text("docs/demo.mp3  # a 1-second jingle for the docs\n")
    assert hygiene.run(tmp_path) == []
