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


def newer_or_same(obj: dict[str, Any], than_uid: str, than_version: str) -> bool:
    """Whether ``obj`` is the same or a later version of the object with ``than_uid`` at ``than_version``
    (etcd's resourceVersions grow; another uid, or a version that is not a number, counts as newer, so a
    copy is never kept past its object's change)."""
    uid, version = _version(obj)
    if uid != than_uid:
        return True
    if version.isdigit() and than_version.isdigit():
        return int(version) >= int(than_version)
    return True


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
        """Keep ``obj`` (from the watch or a list) unless the copy here is as new: the watch event of
        this process's own write brings the version already kept from the write's answer."""
        have = self._copies.get(key)
        if have is not None and _version(obj) == (have.uid, have.version):
            return
        if have is None or newer_or_same(obj, have.uid, have.version):
            self.put(key, obj)

    def offer_copy(self, c: JobCopy) -> None:
        """Keep ``c`` (from a full list) unless the copy here is newer."""
        have = self._copies.get(c.key)
        if have is None or have.uid != c.uid or not (c.version.isdigit() and have.version.isdigit()):
            self._copies[c.key] = c
        elif int(c.version) > int(have.version):
            self._copies[c.key] = c

    def pop(self, key: str) -> None:
        self._copies.pop(key, None)
