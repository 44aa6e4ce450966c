"""The launcher's pure decisions: which host mounts a container root binds in, where targets may be created."""

from __future__ import annotations

from devcluster.kubelet_launch import (
    hidden_by,
    mount_points,
    outermost,
    submounts_to_bind,
    unescape_mount_path,
    where_to_create,
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


def test_only_the_host_mounts_below_the_staging_areas_holder_are_bound_again():
    points = mount_points(MOUNTINFO) + ["/tmp/other", "/tmp/other/inner", "/tmp/ck/.devcluster/pods/q/data"]
    state = "/tmp/ck/.devcluster/pods/p/containers/c/0/rootfs"
    # /tmp (which holds the staging area) is bound without its submounts, so they come one by one,
    # outermost only, and never the staging area's own (another container's included is fine).
    assert submounts_to_bind(points, state) == ["/tmp/other", "/tmp/ck/.devcluster/pods/q/data"]
    assert submounts_to_bind(points, "/work/main/.devcluster/x") == []
    assert outermost(["/a/b", "/a", "/c", "/c/d/e"]) == ["/a", "/c"]


def test_targets_are_made_in_the_containers_own_storage_or_after_splitting_a_host_directory():
    ours = ["/", "/dev", "/tmp", "/models"]
    host = ["/etc", "/var", "/run", "/proc", "/sys", "/tmp", "/mnt/data"]
    assert where_to_create("/", ours, host) == "here"  # the root tmpfs: a new top-level entry
    assert where_to_create("/dev", ours, host) == "here"  # the private /dev
    assert where_to_create("/tmp/ck", ours, host) == "here"  # inside a volume mounted over the host's /tmp
    assert where_to_create("/etc", ours, host) == "split"  # the host's /etc: never written
    assert where_to_create("/run/secrets", ours, host) == "split"
    assert where_to_create("/etc", ours + ["/etc"], host) == "here"  # already split
    assert where_to_create("/mnt/database", ours, ["/mnt/data"]) == "here"  # a shared prefix is not a parent
    assert where_to_create("/proc/sys", ours, host) == "refuse"
    assert where_to_create("/sys/fs", ours, host) == "refuse"


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
