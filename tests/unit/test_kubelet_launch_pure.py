"""The launcher's pure decisions: which host mounts a container root binds in, where targets may be created."""

from __future__ import annotations

from devcluster.kubelet_launch import (
    hidden_by,
    host_mounts_to_bind,
    may_create_under,
    mount_points,
    unescape_mount_path,
)
from devcluster.kubelet_runtime import ImageEntry, image_paths, outermost_dirs

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw
40 27 0:40 / /mnt/my\\040disk rw - ext4 /dev/vdb rw
41 27 0:41 / /tmp/ck/.devcluster/pods/p/containers/c/0/rootfs/layer rw - tmpfs tmpfs rw
"""


def test_mountinfo_paths_are_unescaped():
    assert unescape_mount_path("/mnt/my\\040disk") == "/mnt/my disk"
    assert unescape_mount_path("/a\\134b") == "/a\\b"
    assert unescape_mount_path("/plain\\04") == "/plain\\04"  # not a full escape: kept
    assert mount_points(MOUNTINFO)[:3] == ["/proc", "/sys", "/dev"]
    assert "/mnt/my disk" in mount_points(MOUNTINFO)


def test_root_binds_outermost_host_mounts_but_not_dev_root_or_its_own_staging():
    binds = host_mounts_to_bind(mount_points(MOUNTINFO), skip=["/tmp/ck/.devcluster/pods/p/containers/c/0/rootfs"])
    # /sys/fs/cgroup comes with /sys (recursive bind); /dev is built fresh; / is the overlay's lower layer.
    assert binds == ["/proc", "/sys", "/mnt/my disk"]


def test_targets_are_created_only_in_the_containers_own_storage():
    ours = ["/", "/dev", "/tmp", "/models"]
    host = ["/proc", "/sys", "/mnt/data"]
    assert may_create_under("/", ours, host)  # the overlay: written to the container's layer
    assert may_create_under("/var/run/secrets", ours, host)
    assert may_create_under("/dev", ours, host)  # its private /dev tmpfs
    assert may_create_under("/tmp/ck", ours, host)  # inside a volume (the volume's own directory)
    assert not may_create_under("/mnt/data/x", ours, host)  # a host mount bound in as it is
    assert not may_create_under("/proc/sys", ours, host)
    assert may_create_under("/mnt/data/vol", ours + ["/mnt/data/vol"], host)  # a volume mounted over a host mount
    assert may_create_under("/mnt/database", ours, ["/mnt/data"])  # a name sharing a prefix is not inside it


def test_hidden_image_paths_are_those_under_a_volume():
    assert hidden_by("/tmp/ck/.venv", ["/tmp", "/models"])
    assert hidden_by("/tmp", ["/tmp"])
    assert not hidden_by("/tmpdir/ck", ["/tmp"])
    assert not hidden_by("/root/.pyenv", ["/tmp", "/models"])


def test_image_paths_are_outermost_existing_directories():
    assert outermost_dirs(["/a/b", "/a", "rel", "", "/c/d", "/c/d/e", "/a/b/c"]) == ["/a", "/c/d"]
    paths = image_paths(ImageEntry(bin_dir="/nonexistent/venv/bin"))
    assert paths and all(p.startswith("/") for p in paths)
    assert "/nonexistent/venv" not in paths
    assert len(paths) == len(outermost_dirs(paths))
