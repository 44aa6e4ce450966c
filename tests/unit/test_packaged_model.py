"""PackagedModel: a pinned file joined from installed parts (tiny parts built here)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dubbing.backends.packaged_model import PackagedModel, Part

BODY = b"0123456789" * 100 + b"tail"


def model_and_packages(tmp_path: Path) -> tuple[PackagedModel, dict[str, Path]]:
    packages = {}
    for n, piece in enumerate((BODY[:600], BODY[600:])):
        folder = tmp_path / "site" / f"pkg_{n}"
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "part.bin").write_bytes(piece)
        packages[f"pkg_{n}"] = folder
    model = PackagedModel(
        file="model.bin",
        size=len(BODY),
        sha256=hashlib.sha256(BODY).hexdigest(),
        parts=(Part("pkg-0", "pkg_0", "data/part.bin"), Part("pkg-1", "pkg_1", "data/part.bin")),
        parts_label="pkg-0..1",
        install_hint="pip install pkg",
    )
    return model, packages


def test_found_ready_file_first_then_parts_then_why_not(tmp_path: Path) -> None:
    model, packages = model_and_packages(tmp_path)
    ready, derived = tmp_path / "ready", tmp_path / "derived"
    dirs = [("ready", ready), ("derived", derived)]

    found = model.find(dirs, packages.get)
    assert found.ok and found.path is None and found.sources == tuple(p / "data/part.bin" for p in packages.values())
    assert found.origin == "packaged parts (pkg-0..1 absent)"  # the test packages have no metadata

    joined = model.path(dirs, packages.get, derived)
    assert joined == derived / "model.bin" and joined.read_bytes() == BODY
    assert model.find(dirs, packages.get).path == joined  # found ready next time, nothing joined again

    ready.mkdir()
    (ready / "model.bin").write_bytes(BODY[:-1] + b"X")  # right size, wrong bytes: refused, noted, skipped
    found = model.find(dirs, packages.get)
    assert found.path == joined and found.notes[0].startswith(f"model hash mismatch: {ready / 'model.bin'} has sha256 ")

    joined.unlink()
    found = model.find(dirs, lambda module: None if module == "pkg_1" else packages.get(module))
    assert not found.ok
    assert found.reason.endswith("; model parts missing: pkg-1 not installed (pip install pkg)")


def test_bad_parts_are_named_and_nothing_half_written(tmp_path: Path) -> None:
    model, packages = model_and_packages(tmp_path)
    (packages["pkg_1"] / "data" / "part.bin").write_bytes(BODY[600:-1] + b"?")
    paths, missing = model.part_paths(packages.get)
    assert missing == []
    assert (model.check_parts(paths) or "").startswith("model parts hash mismatch: joined they have sha256 ")
    with pytest.raises(ValueError, match=f"joined model is wrong: {len(BODY)} bytes"):
        model.join(paths, tmp_path / "out" / "model.bin")
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(ValueError, match="model parts hash mismatch"):
        model.install(tmp_path / "out", packages.get)
    (packages["pkg_1"] / "data" / "part.bin").write_bytes(BODY[600:])
    assert model.install(tmp_path / "out", packages.get) == (tmp_path / "out" / "model.bin", True)
    assert model.install(tmp_path / "out", packages.get) == (tmp_path / "out" / "model.bin", False)
