"""One pull: fetch an entry's files into its work folder, verify them, install them atomically.

The order of events, and what a reader of the model cache sees meanwhile:

1. Each file is fetched into ``parts/`` (resuming what an earlier run left), hashed, checked
   against the catalogue (a pinned entry) or the Hub's own sha256 ETag (an unpinned one, when
   allowed), then moved into ``files/``.  A file that fails its check is deleted and the pull
   stops with :class:`PullRefused`; nothing reaches the model's folder.
2. When every file is verified, ``files/`` becomes the model's folder by one rename (the old
   folder, if any, is moved aside first and deleted after), or, for a folder the model shares
   with others, file by file in catalogue order (the file the backend looks for last).

Two pulls of one model never run at once: the second fails fast with :class:`PullBusy`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalogue import CatalogueEntry, ModelFile
from .hub import HubError, RemoteFile, default_endpoint, fetch_into, remote_file
from .state import installed_files, target_dir, work_dir, write_json

PROGRESS_EVERY_SECONDS = 1.0
Reporter = Callable[[dict[str, Any]], None]


class PullError(RuntimeError):
    """A pull that did not complete; ``reason`` is a short CamelCase word."""

    reason = "PullFailed"


class PullRefused(PullError):
    """The files are not the ones the catalogue describes, or cannot be checked (unpinned)."""

    reason = "Refused"


class PullBusy(PullError):
    reason = "Busy"


class PullHubError(PullError):
    reason = "HubError"


@dataclass
class PullResult:
    entry: CatalogueEntry
    folder: Path
    fetched: int
    reused: int
    commit: str | None
    verified: str  # "pinned" or "hub-etag"
    hashes: dict[str, str] = field(default_factory=dict)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(8 * 1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def expected_hash(f: ModelFile, remote: RemoteFile | None) -> str | None:
    """The hash a fetched file must have: the catalogue's, else (unpinned) the Hub's sha256 ETag."""
    if f.sha256 is not None:
        return f.sha256
    return remote.sha256 if remote is not None else None


def check_remote(entry: CatalogueEntry, f: ModelFile, remote: RemoteFile) -> None:
    """Refuse before fetching when the Hub already says the file differs from the pinned one."""
    if f.size is not None and remote.size is not None and remote.size != f.size:
        raise PullRefused(
            f"{entry.name}: {f.path} on the Hub is {remote.size} bytes, the catalogue pins {f.size}: refusing it"
        )
    if f.sha256 is not None and remote.sha256 is not None and remote.sha256 != f.sha256:
        raise PullRefused(
            f"{entry.name}: {f.path} on the Hub has sha256 {remote.sha256}, the catalogue pins {f.sha256}: refusing it"
        )


@contextlib.contextmanager
def exclusive(lock_path: Path, name: str) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise PullBusy(f"{name}: another pull of this model is running") from None
            raise
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class Progress:
    """Writes ``progress.json`` and tells the reporter, every second while a file downloads."""

    def __init__(self, path: Path, entry: CatalogueEntry, total: int | None, reporter: Reporter | None) -> None:
        self.path = path
        self.entry = entry
        self.total = total
        self.reporter = reporter
        self.done = 0  # bytes of files already complete
        self.watch: Path | None = None
        self.current = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def snapshot(self, state: str, message: str = "") -> dict[str, Any]:
        partial = 0
        if self.watch is not None:
            with contextlib.suppress(OSError):
                partial = self.watch.stat().st_size
        return {
            "model": self.entry.name,
            "state": state,
            "file": self.current,
            "fetched": self.done + partial,
            "total": self.total,
            "message": message,
            "updated": time.time(),
        }

    def emit(self, state: str, message: str = "") -> None:
        data = self.snapshot(state, message)
        write_json(self.path, data)
        if self.reporter is not None:
            self.reporter(data)

    def __enter__(self) -> Progress:
        self.emit("pulling", "starting")

        def loop() -> None:
            while not self._stop.wait(PROGRESS_EVERY_SECONDS):
                self.emit("pulling", f"fetching {self.current}" if self.current else "")

        self._thread = threading.Thread(target=loop, name=f"pull-progress-{self.entry.name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _part_name(f: ModelFile) -> str:
    return f.dest.replace("/", "__") + ".part"


def _fetch_one(
    entry: CatalogueEntry,
    f: ModelFile,
    work: Path,
    endpoint: str | None,
    token: str | None,
    progress: Progress,
) -> tuple[int, int, str, str | None]:
    """Fetch and verify one file into ``files/``: (bytes fetched, bytes reused, sha256, commit)."""
    done = work / "files" / f.dest
    if done.is_file():
        actual = sha256_of(done)
        if f.sha256 is None or actual == f.sha256:
            return 0, done.stat().st_size, actual, None
        done.unlink()  # fetched under another catalogue: fetch again
    what = f"{entry.repo}@{entry.revision}/{f.path}"
    try:
        remote = remote_file(entry.repo, f.path, entry.revision, endpoint, token)
    except HubError as error:
        raise PullHubError(str(error)) from error
    check_remote(entry, f, remote)
    parts = work / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    part = parts / _part_name(f)
    etag_file = part.with_name(part.name + ".etag")
    if part.exists() and (not etag_file.is_file() or etag_file.read_text() != (remote.etag or "")):
        part.unlink()  # a different file on the Hub than the one half-fetched: start over
    etag_file.write_text(remote.etag or "")
    reused = part.stat().st_size if part.exists() else 0
    progress.current, progress.watch = f.dest, part
    try:
        fetched = fetch_into(remote, part, token, what)
    except HubError as error:
        raise PullHubError(
            f"{error} (kept {part.stat().st_size if part.exists() else 0} bytes: pull again to resume)"
        ) from error
    finally:
        progress.watch = None
    actual = sha256_of(part)
    wanted = expected_hash(f, remote)
    if wanted is not None and actual != wanted:
        part.unlink()
        etag_file.unlink(missing_ok=True)
        source = "the catalogue pins" if f.sha256 is not None else "the Hub advertises"
        raise PullRefused(f"{entry.name}: {f.path} has sha256 {actual}, {source} {wanted}: refused and deleted")
    if f.size is not None and part.stat().st_size != f.size:
        part.unlink()
        raise PullRefused(f"{entry.name}: {f.path} is {part.stat().st_size} bytes, the catalogue pins {f.size}")
    done.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, done)
    etag_file.unlink(missing_ok=True)
    return fetched, max(0, reused), actual, remote.commit


def install(entry: CatalogueEntry, cache: Path, files: Path) -> Path:
    """Move the verified ``files`` folder into the model's place (see the module's docstring)."""
    target = target_dir(cache, entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    if entry.shared_folder:
        target.mkdir(parents=True, exist_ok=True)
        for f in entry.files:
            (target / f.dest).parent.mkdir(parents=True, exist_ok=True)
            os.replace(files / f.dest, target / f.dest)
        shutil.rmtree(files, ignore_errors=True)
        return target
    previous: Path | None = None
    if target.exists():
        previous = files.with_name("previous")
        shutil.rmtree(previous, ignore_errors=True)
        os.rename(target, previous)
    os.rename(files, target)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
    return target


def pull(
    entry: CatalogueEntry,
    cache: Path,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    allow_unpinned: bool = False,
    reporter: Reporter | None = None,
) -> PullResult:
    """Pull ``entry`` into ``cache``; see the module's docstring.  Raises :class:`PullError`."""
    if not entry.pinned and not allow_unpinned:
        raise PullRefused(
            f"{entry.name}: unpinned: the catalogue records no hash for "
            f"{', '.join(f.path for f in entry.files if not f.pinned)}, so the files cannot be verified; "
            "pass --allow-unpinned to fetch them checked only against what the Hub advertises"
        )
    endpoint = endpoint or default_endpoint()
    token = token if token is not None else (os.environ.get("HF_TOKEN") or None)
    work = work_dir(cache, entry)
    with exclusive(work.with_name(entry.name + ".lock"), entry.name):
        progress = Progress(work / "progress.json", entry, entry.size, reporter)
        if installed_files(cache, entry) and not (work / "files").exists():
            folder = target_dir(cache, entry)
            progress.emit("ready", f"already in {folder}")
            return PullResult(entry, folder, 0, 0, None, "pinned" if entry.pinned else "hub-etag")
        fetched = reused = 0
        hashes: dict[str, str] = {}
        commit: str | None = None
        try:
            with progress:
                for f in entry.files:
                    got, kept, digest, seen_commit = _fetch_one(entry, f, work, endpoint, token, progress)
                    fetched, reused = fetched + got, reused + kept
                    hashes[f.dest] = digest
                    commit = commit or seen_commit
                    progress.done += (work / "files" / f.dest).stat().st_size
                folder = install(entry, cache, work / "files")
        except PullError as error:
            progress.emit("failed", str(error))
            raise
        except OSError as error:
            progress.emit("failed", f"{type(error).__name__}: {error}")
            raise PullError(f"{entry.name}: {error}") from error
        verified = "pinned" if entry.pinned else "hub-etag"
        write_json(
            work / "installed.json",
            {
                "model": entry.name,
                "repo": entry.repo,
                "revision": entry.revision,
                "commit": commit,
                "verified": verified,
                "files": hashes,
                "installedAt": time.time(),
            },
        )
        shutil.rmtree(work / "parts", ignore_errors=True)
        progress.emit("ready", f"installed in {folder} ({verified} sha256 verified)")
        return PullResult(entry, folder, fetched, reused, commit, verified, hashes)
