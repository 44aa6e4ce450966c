"""Container launcher: runs as the first step of a container's process.

Started by the kubelet (inside `unshare --mount --propagation private` when
mounts are possible) with the path of a JSON spec. It bind-mounts the volumes at
their mount paths inside this private mount namespace, drops to the requested
user and group, changes to the working directory, and execs the command, so the
pid the kubelet holds is the container's process. Standard library only: it runs
as a plain script, before anything else is imported.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import sys

MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384


def _mount(libc: ctypes.CDLL, source: str, target: str, flags: int) -> None:
    if libc.mount(source.encode(), target.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} -> {target}: {os.strerror(err)}")


def _ensure_target(source: str, target: str) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):
        os.makedirs(os.path.dirname(target) or "/", exist_ok=True)
        with open(target, "a"):
            pass


def apply_mounts(mounts: list[dict]) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    for mount in mounts:
        source, target = mount["source"], mount["target"]
        _ensure_target(source, target)
        _mount(libc, source, target, MS_BIND | MS_REC)
        if mount.get("readOnly"):
            _mount(libc, source, target, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def main(argv: list[str]) -> None:
    with open(argv[1]) as fh:
        spec = json.load(fh)
    try:
        if spec.get("mount"):
            apply_mounts(spec["mounts"])
        workdir = spec.get("workingDir") or ""
        if workdir:
            os.makedirs(workdir, exist_ok=True)
        gid, uid = spec.get("gid"), spec.get("uid")
        if gid is not None or uid is not None:
            groups = spec.get("supplementalGroups") or []
            os.setgroups([int(g) for g in groups])
            os.setgid(int(gid) if gid is not None else 0)
            if uid is not None:
                os.setuid(int(uid))
        if workdir:
            os.chdir(workdir)
        argv_ = spec["argv"]
        os.execvpe(argv_[0], argv_, spec["env"])
    except OSError as exc:
        sys.stderr.write(f"devkubelet launcher: {exc}\n")
        sys.stderr.flush()
        os._exit(128)


if __name__ == "__main__":
    main(sys.argv)
