"""Where a pull keeps its work in the model cache, its progress file, and what state a model is in.

``<cache>/.pull/<name>/`` holds a pull's work: ``parts/`` (files being fetched, kept across
runs so a pull resumes), ``files/`` (files fetched and verified, laid out as the model's folder),
``progress.json`` (rewritten as the pull goes, read by the web UI) and, once installed,
``installed.json`` (revision, commit and the hash of every file).  The model's own folder
(``<cache>/whisper/base``) only ever receives complete, verified files.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalogue import CatalogueEntry

WORK_DIR = ".pull"
#: A "pulling" progress file older than this is a pull that died (the puller rewrites it every second).
STALE_SECONDS = 30.0


def work_dir(cache: Path, entry: CatalogueEntry) -> Path:
    return cache / WORK_DIR / entry.name


def target_dir(cache: Path, entry: CatalogueEntry) -> Path:
    return cache / entry.folder


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically (a reader sees the old or the new content, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=1, sort_keys=True)
        os.chmod(name, 0o644)
        os.replace(name, path)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def installed_files(cache: Path, entry: CatalogueEntry) -> bool:
    """Every file of the entry is in its place (with its pinned size, when pinned)."""
    folder = target_dir(cache, entry)
    for f in entry.files:
        path = folder / f.dest
        if not path.is_file():
            return False
        if f.size is not None and path.stat().st_size != f.size:
            return False
    return True


@dataclass(frozen=True)
class ModelState:
    """``ready``, ``pulling``, ``failed``, ``partial`` (some bytes fetched, no pull running) or ``absent``."""

    state: str
    fetched: int = 0
    total: int | None = None
    message: str = ""

    @property
    def percent(self) -> float | None:
        if not self.total:
            return None
        return round(min(100.0, 100.0 * self.fetched / self.total), 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "fetched": self.fetched,
            "total": self.total,
            "percent": self.percent,
            "message": self.message,
        }


def decide_state(installed: bool, progress: dict[str, Any] | None, now: float) -> ModelState:
    """The state shown for a model, from whether its files are in place and its last progress file."""
    if installed:
        return ModelState("ready", message=str((progress or {}).get("message", "")))
    if not progress:
        return ModelState("absent")
    fetched = int(progress.get("fetched") or 0)
    total = progress.get("total")
    total = int(total) if isinstance(total, int | float) else None
    message = str(progress.get("message", ""))
    state = progress.get("state")
    if state == "pulling":
        updated = progress.get("updated")
        if isinstance(updated, int | float) and now - float(updated) <= STALE_SECONDS:
            return ModelState("pulling", fetched, total, message)
        return ModelState("partial", fetched, total, "the last pull stopped without finishing; pull again to resume")
    if state == "failed":
        return ModelState("failed", fetched, total, message)
    return ModelState("partial" if fetched else "absent", fetched, total, message)


def model_state(cache: Path, entry: CatalogueEntry, now: float | None = None) -> ModelState:
    progress = read_json(work_dir(cache, entry) / "progress.json")
    return decide_state(installed_files(cache, entry), progress, time.time() if now is None else now)
