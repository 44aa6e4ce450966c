"""A Pod's containers on the development kubelet: starting them, seeing them end, restarting and stopping them.

``Containers`` is the container half of a ``PodWorker`` (:mod:`devcluster.kubelet_pods`): it reads
the worker's current copy of the Pod, its manager (images, secrets, config maps, the API address)
and its slots, and records in each ``Slot`` what became of its container.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from devcluster.kubelet_env import ConfigError, expand_command, resolve_env
from devcluster.kubelet_logs import format_line, tail_text
from devcluster.kubelet_runtime import (
    ContainerProcess,
    ImageEntry,
    LaunchSpec,
    base_env,
    executable_by,
    image_entry,
    image_paths,
    stop_all,
)
from devcluster.kubelet_status import ContainerFacts, terminated_reason, termination_message
from devcluster.kubelet_volumes import mounts_for

if TYPE_CHECKING:
    from devcluster.kubelet_pods import PodWorker

BACKOFF_START = 2.0
BACKOFF_MAX = 60.0


class StartError(Exception):
    """The process could not be started (exit code 128, reason StartError)."""


@dataclass
class Slot:
    """One container of the Pod across its attempts."""

    spec: dict[str, Any]
    init: bool
    proc: ContainerProcess | None = None
    final: ContainerFacts | None = None
    last: ContainerFacts | None = None
    restarts: int = 0
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    next_start: float = 0.0

    @property
    def name(self) -> str:
        return self.spec["name"]

    def facts(self) -> ContainerFacts:
        image = self.spec.get("image", "")
        if self.proc is not None and self.proc.running:
            return ContainerFacts(
                self.name,
                image,
                "running",
                "",
                "",
                self.proc.started_at,
                restart_count=self.restarts,
                container_id=self._cid(),
                last_terminated=self.last,
            )
        if self.final is not None:
            f = self.final
            return ContainerFacts(
                f.name,
                f.image,
                f.state,
                f.reason,
                f.message,
                f.started_at,
                f.finished_at,
                f.exit_code,
                self.restarts,
                f.container_id,
                self.last,
            )
        return ContainerFacts(
            self.name,
            image,
            "waiting",
            self.waiting_reason,
            self.waiting_message,
            restart_count=self.restarts,
            last_terminated=self.last,
        )

    def _cid(self) -> str:
        return f"devkubelet://{self.proc.proc.pid}" if self.proc and self.proc.proc else ""


class Containers:
    """Starts, collects, restarts and stops the containers of one Pod worker."""

    def __init__(self, worker: PodWorker, mounts: tuple[bool, str]) -> None:
        self.w = worker
        self.volumes: dict[str, str] = {}  # volume name -> host path, once the worker prepared them
        self.mount_ok, self.mount_why = mounts

    def security(self, container: dict[str, Any]) -> tuple[int | None, int | None, list[int]]:
        pod_sc = self.w.pod["spec"].get("securityContext") or {}
        sc = container.get("securityContext") or {}
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
        groups = [int(g) for g in pod_sc.get("supplementalGroups") or []]
        if pod_sc.get("fsGroup") is not None:
            groups.append(int(pod_sc["fsGroup"]))
        if os.geteuid() != 0:
            return None, None, []
        return uid, gid, groups

    def start(self, slot: Slot) -> None:
        c = slot.spec
        image = c.get("image", "")
        entry: ImageEntry = image_entry(image, self.w.m.image_map)
        env = base_env(entry, self.w.pod_name, os.environ, self.w.m.api.base_url)
        env.update(
            resolve_env(
                c,
                self.w.pod,
                secrets=self.w.m.get_secret,
                configmaps=self.w.m.get_configmap,
                node_name=self.w.m.node_name,
                node_allocatable=self.w.m.allocatable,
            )
        )
        argv = expand_command(c, env) if c.get("command") else list(entry.command) + expand_command(c, env)
        if not argv:
            raise StartError(f"container {slot.name!r} has no command and image {image!r} maps to no default command")
        resolved = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env["PATH"])
        if resolved is None:
            raise StartError(f'exec: "{argv[0]}": executable file not found in $PATH')
        attempt = slot.restarts
        cdir = self.w.pod_dir / "containers" / slot.name / str(attempt)
        cdir.mkdir(parents=True, exist_ok=True)
        term_file = cdir / "termination-log"
        term_file.write_bytes(b"")
        os.chmod(term_file, 0o666)
        mounts = mounts_for(c, self.volumes, self.w.pod, str(term_file), env)
        uid, gid, groups = self.security(c)
        notes: list[str] = []
        if not self.mount_ok:
            notes.append(f"devkubelet: volumes are not mounted: {self.mount_why}")
        if uid:
            obstacle = executable_by(resolved, int(uid), int(gid or 0), groups)
            if obstacle:
                # The host's interpreter is out of that user's reach (e.g. under /root):
                # run as the kubelet's user rather than not at all, and say so.
                note = f"runAsUser {uid} not applied: {obstacle} is not accessible to that user on this host"
                notes.append(f"devkubelet: {note}")
                self.w.event("RunAsUserIgnored", note, "Warning")
                uid, gid, groups = None, None, []
        spec = LaunchSpec(
            argv=argv,
            env=env,
            mounts=mounts,
            working_dir=c.get("workingDir") or entry.working_dir or "/",
            uid=uid,
            gid=gid,
            supplemental_groups=groups,
            use_mount_namespace=self.mount_ok,
            image_paths=image_paths(entry),
        )
        log_file = self.w.log_path(slot.name, attempt)
        if notes:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            with open(log_file, "a") as fh:
                for note in notes:
                    fh.write(format_line("stderr", note))
        proc = ContainerProcess(spec, cdir, log_file, on_exit=self.w.wake.set)
        proc.start()
        slot.proc = proc
        slot.final = None
        self.w.event("Pulled", f'Container image "{image}" already present on machine')
        self.w.event("Created", f"Created container {slot.name}")
        self.w.event("Started", f"Started container {slot.name}")

    def try_start(self, slot: Slot) -> None:
        """Start a container; a configuration problem leaves it waiting, a start failure terminates it."""
        try:
            self.start(slot)
            slot.waiting_message = ""
        except ConfigError as exc:
            slot.waiting_reason = "CreateContainerConfigError"
            slot.waiting_message = str(exc)
            slot.next_start = time.monotonic() + 2.0
            self.w.event("Failed", f"Error: {exc}", "Warning")
        except (StartError, OSError) as exc:
            now = datetime.now(UTC)
            slot.proc = None
            slot.final = ContainerFacts(
                slot.name,
                slot.spec.get("image", ""),
                "terminated",
                "StartError",
                str(exc),
                now,
                now,
                128,
            )
            self.w.event("Failed", f"Error: {exc}", "Warning")

    def collect(self) -> None:
        """Turn processes that ended into terminated facts (exit code, termination message)."""
        for slot in self.w.slots():
            proc = slot.proc
            if proc is None or proc.running or slot.final is not None:
                continue
            code = proc.exit_code if proc.exit_code is not None else 0
            term_path = self.w.pod_dir / "containers" / slot.name / str(slot.restarts) / "termination-log"
            try:
                text = term_path.read_bytes()
            except OSError:
                text = b""
            policy = slot.spec.get("terminationMessagePolicy") or "File"
            tail = tail_text(self.w.log_path(slot.name, slot.restarts), 80) if policy == "FallbackToLogsOnError" else []
            slot.final = ContainerFacts(
                slot.name,
                slot.spec.get("image", ""),
                "terminated",
                terminated_reason(code),
                termination_message(text, tail, code, policy),
                proc.started_at,
                proc.finished_at,
                code,
                container_id=f"devkubelet://{proc.proc.pid}" if proc.proc else "",
            )

    def should_restart(self, slot: Slot) -> bool:
        if slot.final is None:
            return False
        policy = self.w.restart_policy
        return policy == "Always" or (policy == "OnFailure" and slot.final.exit_code != 0)

    def schedule_restart(self, slot: Slot) -> None:
        assert slot.final is not None
        slot.last = slot.final
        slot.final = None
        slot.proc = None
        delay = min(BACKOFF_MAX, BACKOFF_START * 2 ** min(slot.restarts, 10))
        slot.restarts += 1
        slot.next_start = time.monotonic() + delay
        slot.waiting_reason = "CrashLoopBackOff"
        slot.waiting_message = f"back-off {int(delay)}s restarting failed container={slot.name} pod={self.w.pod_name}"

    def stop(self, grace: float, why: str) -> None:
        live = [s.proc for s in self.w.slots() if s.proc is not None and s.proc.running]
        if not live:
            return
        for slot in self.w.slots():
            if slot.proc is not None and slot.proc.running and why:
                self.w.event("Killing", f"Stopping container {slot.name}")
        stop_all(live, grace)
        self.collect()
