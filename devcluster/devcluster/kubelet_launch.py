"""Container launcher: runs as the first step of a container's process.

Started by the kubelet (inside `unshare --mount --propagation private` when
mounts are possible) with the path of a JSON spec. Like a real kubelet and
container runtime it

1. resolves every volume source first (an `O_PATH` descriptor each), so that a
   volume mounted early (an emptyDir at `/tmp`, say) cannot hide the source of
   a later one that happens to live under that path on the host;
2. builds the container's own root: an overlay whose lower layer is the host's
   root ("the image") and whose upper layer is a tmpfs that dies with the
   container, the host's other mounts bound in, and a private `/dev`;
3. chroots into it and bind-mounts each volume at its mount path, creating the
   mount targets inside that root, never on the host: a target that would have
   to be created on a host mount is refused;
4. binds the image's own paths (the interpreter, its environment, the code it
   imports) back where a volume hid them, drops to the requested user and
   group, changes to the working directory, and execs the command, so the pid
   the kubelet holds is the container's process.

Standard library only: it runs as a plain script, before anything else is
imported. The helpers at the top are pure so the tests can check them alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import stat
import sys
from collections.abc import Iterable, Sequence

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}
LAYER_SIZE = "1g"
"""Cap of the container's writable layer (a tmpfs: memory is used only for what is written)."""


# ---- pure helpers -----------------------------------------------------------------------------
def unescape_mount_path(field: str) -> str:
    """/proc/self/mountinfo writes space, tab, newline and backslash as octal escapes."""
    out, i = [], 0
    while i < len(field):
        code = field[i + 1 : i + 4]
        if field[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_points(mountinfo: str) -> list[str]:
    """Mount points listed in a mountinfo text, in order."""
    points = []
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            points.append(unescape_mount_path(fields[4]))
    return points


def is_under(path: str, top: str) -> bool:
    return top == "/" or path == top or path.startswith(top.rstrip("/") + "/")


def host_mounts_to_bind(points: Iterable[str], skip: Sequence[str]) -> list[str]:
    """The host's mounts the container root binds in, outermost only (a recursive bind brings the rest).

    The root itself is the overlay's lower layer; `/dev` is built fresh; anything
    under a `skip` path (the kubelet's own staging area) stays out.
    """
    candidates = sorted(
        {p for p in points if p != "/" and not is_under(p, "/dev") and not any(is_under(p, s) for s in skip)},
        key=lambda p: (p.count("/"), p),
    )
    chosen: list[str] = []
    for point in candidates:
        if not any(is_under(point, c) for c in chosen):
            chosen.append(point)
    return chosen


def may_create_under(path: str, ours: Sequence[str], host: Sequence[str]) -> bool:
    """Whether a missing mount target at `path` would be created in the container's own storage.

    `ours` are mount points backed by the container (its overlay root, its /dev,
    its volumes); `host` are host mounts bound in as they are. The deepest mount
    point that holds `path` decides; on a tie the later-mounted kind wins, and
    volumes are mounted after the host binds.
    """
    best, best_ours = -1, False
    for point in host:
        if is_under(path, point) and len(point) > best:
            best, best_ours = len(point), False
    for point in ours:
        if is_under(path, point) and len(point) >= best:
            best, best_ours = len(point), True
    return best_ours


# ---- mounting ---------------------------------------------------------------------------------
class Mounter:
    def __init__(self) -> None:
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def mount(self, source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        rc = self.libc.mount(
            source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
            data.encode() if data else None,
        )
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {source} -> {target}: {os.strerror(err)}")

    def bind(self, source: str, target: str, read_only: bool = False) -> None:
        self.mount(source, target, None, MS_BIND | MS_REC)
        if read_only:
            self.mount(source, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def _touch(path: str) -> None:
    with open(path, "a"):
        pass


def open_source(path: str, what: str) -> int:
    try:
        return os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        raise OSError(exc.errno, f"{what} {path}: {os.strerror(exc.errno or 0)}") from None


def build_root(m: Mounter, state_dir: str) -> tuple[str, list[str]]:
    """The container's root under `state_dir`; returns it and the host mounts bound into it."""
    with open("/proc/self/mountinfo") as fh:
        binds = host_mounts_to_bind(mount_points(fh.read()), skip=[state_dir])
    layer, root = os.path.join(state_dir, "layer"), os.path.join(state_dir, "root")
    os.makedirs(layer, exist_ok=True)
    os.makedirs(root, exist_ok=True)
    m.mount("tmpfs", layer, "tmpfs", MS_NOSUID | MS_NODEV, f"size={LAYER_SIZE},mode=700")
    os.mkdir(os.path.join(layer, "upper"))
    os.mkdir(os.path.join(layer, "work"))
    m.mount("overlay", root, "overlay", 0,
            f"lowerdir=/,upperdir={layer}/upper,workdir={layer}/work")
    for point in binds:
        target = root + point
        if os.path.isdir(target) and not os.path.islink(target):
            m.bind(point, target)
    dev = root + "/dev"
    os.makedirs(dev, exist_ok=True)
    m.mount("tmpfs", dev, "tmpfs", MS_NOSUID, "size=64m,mode=755")
    for node in DEV_NODES:
        if os.path.exists("/dev/" + node):
            _touch(f"{dev}/{node}")
            m.bind("/dev/" + node, f"{dev}/{node}")
    for name, link in DEV_LINKS.items():
        os.symlink(link, f"{dev}/{name}")
    for sub in ("pts", "shm", "mqueue"):
        os.mkdir(f"{dev}/{sub}")
    if os.path.isdir("/dev/pts"):
        m.bind("/dev/pts", f"{dev}/pts")
    m.mount("tmpfs", f"{dev}/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=1777")
    return root, binds


def hidden_by(path: str, volume_targets: Sequence[str]) -> bool:
    """Whether a volume mounted at one of `volume_targets` covers `path`."""
    return any(is_under(path, t) for t in volume_targets)


def make_target(path: str, is_dir: bool, ours: Sequence[str], host: Sequence[str]) -> None:
    if os.path.lexists(path):
        return
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not may_create_under(os.path.realpath(parent), ours, host):
        raise OSError(0, f"mount target {path} does not exist and would have to be created on the host's "
                         f"{parent}; the development kubelet never writes there")
    if is_dir:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        _touch(path)


def enter_container_root(spec: dict) -> None:
    m = Mounter()
    mounts = spec["mounts"]
    image_paths = [p for p in spec.get("imagePaths") or [] if os.path.exists(p)]
    volume_fds = [open_source(v["source"], "volume source") for v in mounts]
    image_fds = [open_source(p, "image path") for p in image_paths]
    m.mount("none", "/", None, MS_REC | MS_PRIVATE)
    root, binds = build_root(m, spec["stateDir"])
    os.chroot(root)
    os.chdir("/")
    ours = ["/", "/dev"]
    targets: list[str] = []
    for volume, fd in zip(mounts, volume_fds):
        target = os.path.normpath(volume["target"])
        make_target(target, stat.S_ISDIR(os.fstat(fd).st_mode), ours, binds)
        m.bind(f"/proc/self/fd/{fd}", target, bool(volume.get("readOnly")))
        ours.append(target)
        targets.append(target)
    for path, fd in zip(image_paths, image_fds):
        if hidden_by(path, targets):  # a volume hid part of the image: show it again where it was
            make_target(path, stat.S_ISDIR(os.fstat(fd).st_mode), ours, binds)
            m.bind(f"/proc/self/fd/{fd}", path, read_only=False)
    for fd in (*volume_fds, *image_fds):
        os.close(fd)


def probe(state_dir: str) -> None:
    """Build a throwaway root and mount one volume in it: proves this host can run containers."""
    source = os.path.join(state_dir, "source")
    os.makedirs(source, exist_ok=True)
    enter_container_root({"stateDir": os.path.join(state_dir, "c"), "mounts": [
        {"source": source, "target": "/devkubelet-probe/volume", "readOnly": True}]})
    if not os.path.isdir("/devkubelet-probe/volume"):
        raise OSError(0, "the probe's volume is not visible inside the container root")


def main(argv: list[str]) -> None:
    try:
        if len(argv) == 3 and argv[1] == "--probe":
            probe(argv[2])
            return
        with open(argv[1]) as fh:
            spec = json.load(fh)
        if spec.get("mount"):
            enter_container_root(spec)
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
        sys.stderr.write(f"devkubelet launcher: {exc.strerror or exc}\n")
        sys.stderr.flush()
        os._exit(128)


if __name__ == "__main__":
    main(sys.argv)
