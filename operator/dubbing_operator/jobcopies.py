"""The newest copy of every job this process has seen, kept small.

A reconcile reads its job from here instead of GETting it, and the resync works
from here between its full lists.  Each copy is kept as compact JSON without
``metadata.managedFields`` (which the operator never reads and which, for a job
whose status names nine stages, is about as large as the status): a parsed job
costs about four times its JSON in memory, which at thousands of jobs was most
of the operator's resident memory.  ``get`` parses a fresh dict each time, so a
caller may change what it gets.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple


class JobCopy(NamedTuple):
    """One job as kept: its key (``namespace/name``), uid, resourceVersion and compact JSON."""

    key: str
    uid: str
    version: str
    data: bytes


def _version(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or ""), str(meta.get("resourceVersion") or "")


def supersedes(uid: str, version: str, than_uid: str, than_version: str) -> bool:
    """Whether the copy of object ``uid`` at ``version`` replaces one of ``than_uid`` at ``than_version``:
    another object of the same name, or a later version (etcd's resourceVersions grow; where one is
    not a number, any other version counts as later, so a copy is never kept past its object's change)."""
    if uid != than_uid:
        return True
    if version.isdigit() and than_version.isdigit():
        return int(version) > int(than_version)
    return version != than_version


def copy_of(obj: dict[str, Any]) -> JobCopy:
    """The kept form of a job as the API server gives it (pure: a full list makes these in its own
    thread, a page at a time, so the parsed jobs of a whole list are never all in memory at once)."""
    meta = obj.get("metadata") or {}
    uid, version = _version(obj)
    return JobCopy(f"{meta.get('namespace') or ''}/{meta.get('name') or ''}", uid, version, _compact(obj))


def _compact(obj: dict[str, Any]) -> bytes:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return json.dumps(obj, separators=(",", ":")).encode()


class JobCopies:
    def __init__(self) -> None:
        self._copies: dict[str, JobCopy] = {}

    def __len__(self) -> int:
        return len(self._copies)

    def __contains__(self, key: str) -> bool:
        return key in self._copies

    def keys(self) -> list[str]:
        return list(self._copies)

    def get(self, key: str) -> dict[str, Any] | None:
        c = self._copies.get(key)
        return None if c is None else json.loads(c.data)

    def version(self, key: str) -> str | None:
        c = self._copies.get(key)
        return None if c is None else c.version

    def put(self, key: str, obj: dict[str, Any]) -> None:
        """Keep ``obj`` (the answer to this process's own write, or a fresh read) whatever was there."""
        uid, version = _version(obj)
        self._copies[key] = JobCopy(key, uid, version, _compact(obj))

    def offer(self, key: str, obj: dict[str, Any]) -> None:
        """Keep ``obj`` (from the watch) unless the copy here is as new: the watch event of this
        process's own write brings the version already kept from the write's answer (and is not
        encoded again)."""
        have = self._copies.get(key)
        if have is None or supersedes(*_version(obj), have.uid, have.version):
            self.put(key, obj)

    def offer_copy(self, c: JobCopy) -> None:
        """Keep ``c`` (from a full list) unless the copy here is as new."""
        have = self._copies.get(c.key)
        if have is None or supersedes(c.uid, c.version, have.uid, have.version):
            self._copies[c.key] = c

    def pop(self, key: str) -> None:
        self._copies.pop(key, None)
