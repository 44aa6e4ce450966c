"""An artifact store in a local directory (``file:///abs/path``): one machine, development, tests."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ..config.stage import StageSettings
from .base import CHUNK, ArtifactNotFound, ArtifactStore, ObjectInfo, StoreError, check_key, join

TMP_MARK = ".tmp-"


class LocalStore(ArtifactStore):
    """Objects are files under ``root``; keys are relative paths.

    Other "buckets" (where a job's input object lives, ``spec.input.bucket``) are the
    directories ``<buckets_root>/<bucket>``; ``buckets_root`` defaults to
    ``$DUBBING_LOCAL_BUCKETS`` or ``<root>/_buckets``.
    """

    scheme = "file"

    def __init__(self, root: Path | str, buckets_root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        env = StageSettings.from_env().local_buckets if buckets_root is None else None
        self.buckets_root = Path(buckets_root or env or self.root / "_buckets").expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _tmp_for(self, target: Path) -> Path:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create {target.parent}: {error}") from error
        return target.parent / f"{TMP_MARK}{uuid.uuid4().hex}-{target.name}"

    def _info(self, key: str, path: Path, sha256: str | None = None) -> ObjectInfo:
        st = path.stat()
        return ObjectInfo(
            key=key,
            size=st.st_size,
            etag=f"{st.st_size:x}-{st.st_mtime_ns:x}",
            modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
            sha256=sha256,
        )

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> ObjectInfo:
        try:
            handle = open(path, "rb")
        except OSError as error:
            raise StoreError(f"cannot read {path}: {error}") from error
        with handle:
            return self.put_stream(key, handle, os.fstat(handle.fileno()).st_size, content_type)

    def put_stream(self, key: str, stream: BinaryIO, length: int, content_type: str | None = None) -> ObjectInfo:
        target = self._path(key)
        tmp = self._tmp_for(target)
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as dst:
                remaining = length
                while remaining > 0:
                    block = stream.read(min(CHUNK, remaining))
                    if not block:
                        raise StoreError(f"stream ended {remaining} bytes early writing {key}")
                    digest.update(block)
                    dst.write(block)
                    remaining -= len(block)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, target)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write {target}: {error}") from error
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self._info(key, target, digest.hexdigest())

    def get_file(self, key: str, dest: Path) -> Path:
        source = self._path(key)
        if not source.is_file():
            raise ArtifactNotFound(key)
        dest = Path(dest)
        tmp = self._tmp_for(dest)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, dest)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot read {source}: {error}") from error
        return dest

    def get_bytes(self, key: str) -> bytes:
        source = self._path(key)
        try:
            return source.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ArtifactNotFound(key) from None
        except OSError as error:
            raise StoreError(f"cannot read {source}: {error}") from error

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return self._info(key, path)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root
        if not base.is_dir():
            return
        # Walk only the directory the prefix points into, then filter by the full prefix.
        directory = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = base / directory if directory else base
        if not start.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            for name in sorted(filenames):
                if name.startswith(TMP_MARK):
                    continue
                path = Path(dirpath) / name
                key = path.relative_to(base).as_posix()
                if key.startswith(prefix):
                    yield self._info(key, path)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as error:
            raise StoreError(f"cannot delete {path}: {error}") from error
        # Tidy empty directories up to the root.
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def copy(self, source: str, dest: str) -> ObjectInfo:
        src = self._path(source)
        if not src.is_file():
            raise ArtifactNotFound(source)
        return self.put_file(dest, src)

    def local_path(self, key: str) -> Path:
        """Where ``key`` lives on disk (LocalStore only)."""
        return self._path(key)

    def url(self, key: str = "") -> str:
        path = self.root / key if key else self.root
        return path.as_uri()

    def for_bucket(self, bucket: str, prefix: str = "") -> LocalStore:
        return LocalStore(
            self.buckets_root / bucket / prefix if prefix else self.buckets_root / bucket, self.buckets_root
        )

    def with_prefix(self, prefix: str) -> LocalStore:
        return LocalStore(self.root / join(prefix), self.buckets_root)
