"""Container launcher: runs as the first step of a container's process.

Started by the kubelet (inside `unshare --mount --propagation private` when
mounts are possible) with the path of a JSON spec. Like a real kubelet and
container runtime it

1. resolves every volume source first (an `O_PATH` descriptor each), so that a
   volume mounted early (an emptyDir at `/tmp`, say) cannot hide the source of
   a later one that happens to live under that path on the host;
2. builds the container's own root: a tmpfs that binds each of the host's
   top-level entries ("the image": there is no image layer, so files written in
   the host's directories are the host's, as before) and a private `/dev`;
3. chroots into it and bind-mounts each volume at its mount path, creating the
   mount targets inside that root, never on the host: where a target would
   have to be made in a host directory, that directory is first replaced, in
   this container only, by a tmpfs that binds its entries;
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
DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "ptmx": "pts/ptmx",
}


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


def outermost(paths: Iterable[str]) -> list[str]:
    """The paths that lie under none of the others, shallowest first."""
    chosen: list[str] = []
    for path in sorted(set(paths), key=lambda p: (p.count("/"), p)):
        if not any(is_under(path, c) for c in chosen):
            chosen.append(path)
    return chosen


def submounts_to_bind(points: Iterable[str], state_dir: str) -> list[str]:
    """Host mounts to bind again beneath the top-level entry that holds the kubelet's staging area.

    That entry is bound without its submounts (a recursive bind would copy the
    container root being built into itself), so the host's other mounts under it
    are bound one by one; none under the staging area itself, none of /dev's.
    """
    holder = "/" + state_dir.strip("/").split("/", 1)[0]
    return outermost(
        p
        for p in points
        if is_under(p, holder) and p != holder and not is_under(p, state_dir) and not is_under(p, "/dev")
    )


def deepest(path: str, points: Iterable[str]) -> int:
    """Length of the deepest of `points` that holds `path` (-1: none)."""
    return max((len(p) for p in points if is_under(path, p)), default=-1)


def where_to_create(path: str, ours: Sequence[str], host: Sequence[str]) -> str:
    """How a missing mount target below the existing directory `path` is made without touching the host.

    "here": `path` lies in the container's own storage (its root tmpfs, its /dev,
    a volume, a directory already split); "split": `path` is a host directory
    bound in, so it is first replaced by a tmpfs holding binds of its entries;
    "refuse": a kernel filesystem (/proc, /sys) that no target may be made in.
    The deepest mount point holding `path` decides; on a tie, ours (mounted later) wins.
    """
    if is_under(path, "/proc") or is_under(path, "/sys"):
        return "refuse"
    return "here" if deepest(path, ours) >= deepest(path, host) else "split"


def hidden_by(path: str, volume_targets: Sequence[str]) -> bool:
    """Whether a volume mounted at one of `volume_targets` covers `path`."""
    return any(is_under(path, t) for t in volume_targets)


# ---- mounting ---------------------------------------------------------------------------------
class Mounter:
    def __init__(self) -> None:
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def mount(self, source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        rc = self.libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        )
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {source} -> {target}: {os.strerror(err)}")

    def bind(self, source: str, target: str, read_only: bool = False, recursive: bool = True) -> None:
        flags = MS_BIND | (MS_REC if recursive else 0)
        self.mount(source, target, None, flags)
        if read_only:
            self.mount(source, target, None, flags | MS_REMOUNT | MS_RDONLY)


def _touch(path: str) -> None:
    with open(path, "a"):
        pass


def open_source(path: str, what: str) -> int:
    try:
        return os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        raise OSError(exc.errno, f"{what} {path}: {os.strerror(exc.errno or 0)}") from None


def mirror_entry(m: Mounter, source: str, target: str, recursive: bool = True) -> None:
    """Make `target` show the host's `source`: a symlink copied, anything else a bind mount."""
    st = os.lstat(source)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(source), target)
        return
    if stat.S_ISDIR(st.st_mode):
        os.mkdir(target)
    else:
        _touch(target)
    m.bind(source, target, recursive=recursive)


def split_directory(m: Mounter, path: str) -> None:
    """Replace a host directory bound into the root by a tmpfs that binds each of its entries.

    Its entries stay the host's (shared, as the development kubelet's containers share
    the host's files), while a mount target created in it lives in the tmpfs only.
    """
    fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        names = os.listdir(f"/proc/self/fd/{fd}")
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        m.mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size=16m,mode={mode:o}")
        for name in names:
            mirror_entry(m, f"/proc/self/fd/{fd}/{name}", os.path.join(path, name))
    finally:
        os.close(fd)


def build_dev(m: Mounter, dev: str) -> None:
    """A private /dev: the usual device nodes bound from the host, its own shm."""
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


def build_root(m: Mounter, state_dir: str) -> tuple[str, list[str]]:
    """The container's root under `state_dir`: a tmpfs holding binds of the host's top-level entries.

    Returns the root and the host paths bound in. Files the container writes in the
    host's directories land on the host (the development kubelet has no image layer),
    but every new top-level entry, /dev and each mount target stay in the container.
    """
    state_dir = os.path.realpath(state_dir)
    with open("/proc/self/mountinfo") as fh:
        points = mount_points(fh.read())
    root = os.path.join(state_dir, "root")
    os.makedirs(root, exist_ok=True)
    m.mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    holder = "/" + state_dir.strip("/").split("/", 1)[0]
    host: list[str] = []
    for name in sorted(os.listdir("/")):
        source = "/" + name
        if name == "dev":
            continue
        mirror_entry(m, source, root + source, recursive=source != holder)
        host.append(source)
    for point in submounts_to_bind(points, state_dir):
        if os.path.lexists(root + point):
            m.bind(point, root + point)
            host.append(point)
    build_dev(m, root + "/dev")
    return root, host


def make_target(m: Mounter, path: str, is_dir: bool, ours: list[str], host: Sequence[str]) -> None:
    """Create a missing mount target inside the container's own view (the root is already entered)."""
    if os.path.lexists(path):
        return
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    existing = os.path.realpath(parent)
    how = where_to_create(existing, ours, host)
    if how == "refuse":
        raise OSError(0, f"mount target {path} does not exist and cannot be created in {existing}")
    if how == "split":
        split_directory(m, existing)
        ours.append(existing)
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
    root, host = build_root(m, spec["stateDir"])
    os.chroot(root)
    os.chdir("/")
    ours = ["/", "/dev"]
    targets: list[str] = []
    for volume, fd in zip(mounts, volume_fds, strict=False):
        target = os.path.normpath(volume["target"])
        make_target(m, target, stat.S_ISDIR(os.fstat(fd).st_mode), ours, host)
        m.bind(f"/proc/self/fd/{fd}", target, bool(volume.get("readOnly")))
        ours.append(target)
        targets.append(target)
    for path, fd in zip(image_paths, image_fds, strict=False):
        if hidden_by(path, targets):  # a volume hid part of the image: show it again where it was
            make_target(m, path, stat.S_ISDIR(os.fstat(fd).st_mode), ours, host)
            m.bind(f"/proc/self/fd/{fd}", path)
    for fd in (*volume_fds, *image_fds):
        os.close(fd)


def probe(state_dir: str) -> None:
    """Build a throwaway root and mount one volume in it: proves this host can run containers."""
    source = os.path.join(state_dir, "source")
    os.makedirs(source, exist_ok=True)
    enter_container_root(
        {
            "stateDir": os.path.join(state_dir, "c"),
            "mounts": [{"source": source, "target": "/devkubelet-probe/volume", "readOnly": True}],
        }
    )
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
