"""The Pod lifecycle: one worker thread per Pod bound to this node.

A worker prepares the volumes, runs the init containers one after another, then
the main containers, and reports status after every change. Deletion (a
deletionTimestamp) stops the processes with SIGTERM, the grace period, then
SIGKILL, and removes the Pod object; activeDeadlineSeconds fails the Pod with
DeadlineExceeded. `PodManager` watches the Pods bound to the node and feeds the
workers; on start it fails the Pods a previous kubelet left running.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from devcluster.kubelet_api import ApiError, KubeApi, namespaced_path, pod_path
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
    kill_orphan,
    mounts_supported,
    stop_all,
)
from devcluster.kubelet_status import (
    DEADLINE_MESSAGE,
    DEADLINE_REASON,
    ContainerFacts,
    PodOutcome,
    deadline_passed,
    lost_pod_status,
    pod_started,
    pod_status,
    rfc3339,
    terminated_reason,
    termination_message,
)
from devcluster.kubelet_volumes import VolumeSources, mounts_for, prepare_volumes

log = logging.getLogger("devkubelet.pods")

TERMINAL = ("Succeeded", "Failed")
BACKOFF_START = 2.0
BACKOFF_MAX = 60.0


class _Deleted(Exception):
    pass


class _Gone(Exception):
    pass


class _DeadlineExceeded(Exception):
    pass


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
                self.name, image, "running", "", "", self.proc.started_at,
                restart_count=self.restarts, container_id=self._cid(), last_terminated=self.last,
            )
        if self.final is not None:
            f = self.final
            return ContainerFacts(
                f.name, f.image, f.state, f.reason, f.message, f.started_at, f.finished_at, f.exit_code,
                self.restarts, f.container_id, self.last,
            )
        return ContainerFacts(
            self.name, image, "waiting", self.waiting_reason, self.waiting_message,
            restart_count=self.restarts, last_terminated=self.last,
        )

    def _cid(self) -> str:
        return f"devkubelet://{self.proc.proc.pid}" if self.proc and self.proc.proc else ""


def _rv(obj: dict[str, Any]) -> int:
    try:
        return int(obj.get("metadata", {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class PodWorker(threading.Thread):
    """Runs one Pod from bind to removal."""

    def __init__(self, manager: "PodManager", pod: dict[str, Any], first_restart: int = 0) -> None:
        meta = pod["metadata"]
        super().__init__(name=f"pod-{meta['namespace']}/{meta['name']}", daemon=True)
        self.m = manager
        self.pod = pod
        self.uid = meta["uid"]
        self.namespace = meta["namespace"]
        self.pod_name = meta["name"]
        self.pod_dir = manager.pod_dir(self.namespace, self.pod_name, self.uid)
        self.wake = threading.Event()
        self.gone = False
        self.outcome: PodOutcome | None = None
        self.start_time = datetime.now(timezone.utc)
        existing_start = (pod.get("status") or {}).get("startTime")
        if existing_start:
            self.start_time = datetime.fromisoformat(existing_start.replace("Z", "+00:00"))
        spec = pod["spec"]
        inits = spec.get("initContainers") or []
        self.init_slots = [Slot(c, True, restarts=first_restart) for c in inits]
        self.main_slots = [
            Slot(c, False, restarts=first_restart, waiting_reason="PodInitializing" if inits else "ContainerCreating")
            for c in spec.get("containers") or []
        ]
        self._pushed: dict[str, Any] | None = None
        self._volumes: dict[str, str] = {}
        self._mount_ok, self._mount_why = manager.mounts

    # ---- inputs from the manager -------------------------------------------------
    def update(self, pod: dict[str, Any]) -> None:
        self._adopt(pod)
        self.wake.set()

    def _adopt(self, pod: dict[str, Any]) -> None:
        """Keep the newest copy of the Pod (watch events and patch answers may cross)."""
        if pod.get("metadata", {}).get("uid") != self.uid:
            return
        if _rv(pod) >= _rv(self.pod):
            self.pod = pod

    def mark_gone(self) -> None:
        self.gone = True
        self.wake.set()

    # ---- helpers -------------------------------------------------------------------
    @property
    def restart_policy(self) -> str:
        return self.pod["spec"].get("restartPolicy") or "Always"

    def slots(self) -> list[Slot]:
        return self.init_slots + self.main_slots

    def find_slot(self, container: str) -> Slot | None:
        return next((s for s in self.slots() if s.name == container), None)

    def log_path(self, container: str, attempt: int) -> Path:
        return self.pod_dir / "logs" / container / f"{attempt}.log"

    def _tick(self, timeout: float, deadline: bool = True) -> None:
        self.wake.wait(timeout)
        self.wake.clear()
        if self.gone:
            raise _Gone()
        if self.pod["metadata"].get("deletionTimestamp"):
            raise _Deleted()
        if deadline and deadline_passed(
            self.start_time, self.pod["spec"].get("activeDeadlineSeconds"), datetime.now(timezone.utc)
        ):
            raise _DeadlineExceeded()

    def _status(self) -> dict[str, Any]:
        return pod_status(
            init=[s.facts() for s in self.init_slots],
            main=[s.facts() for s in self.main_slots],
            restart_policy=self.restart_policy,
            start_time=self.start_time,
            now=datetime.now(timezone.utc),
            previous_conditions=(self.pod.get("status") or {}).get("conditions") or [],
            outcome=self.outcome,
        )

    def push(self) -> str:
        status = self._status()
        if status != self._pushed:
            try:
                updated = self.m.api.merge_patch(pod_path(self.namespace, self.pod_name) + "/status", {"status": status})
                self._adopt(updated)
                self._pushed = status
            except ApiError as exc:
                if exc.status == 404:
                    raise _Gone() from exc
                log.warning("status update of %s/%s failed: %s", self.namespace, self.pod_name, exc)
            except Exception as exc:  # apiserver briefly unreachable: retry on the next tick
                log.warning("status update of %s/%s failed: %s", self.namespace, self.pod_name, exc)
        return status["phase"]

    def event(self, reason: str, message: str, kind: str = "Normal") -> None:
        self.m.event(self.pod, reason, message, kind)

    # ---- container start/exit ------------------------------------------------------
    def _security(self, container: dict[str, Any]) -> tuple[int | None, int | None, list[int]]:
        pod_sc = self.pod["spec"].get("securityContext") or {}
        sc = container.get("securityContext") or {}
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
        groups = [int(g) for g in pod_sc.get("supplementalGroups") or []]
        if pod_sc.get("fsGroup") is not None:
            groups.append(int(pod_sc["fsGroup"]))
        if os.geteuid() != 0:
            return None, None, []
        return uid, gid, groups

    def _start(self, slot: Slot) -> None:
        c = slot.spec
        image = c.get("image", "")
        entry: ImageEntry = image_entry(image, self.m.image_map)
        env = base_env(entry, self.pod_name, os.environ, self.m.api.base_url)
        env.update(
            resolve_env(
                c, self.pod, secrets=self.m.get_secret, configmaps=self.m.get_configmap,
                node_name=self.m.node_name, node_allocatable=self.m.allocatable,
            )
        )
        argv = expand_command(c, env) if c.get("command") else list(entry.command) + expand_command(c, env)
        if not argv:
            raise StartError(f"container {slot.name!r} has no command and image {image!r} maps to no default command")
        resolved = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env["PATH"])
        if resolved is None:
            raise StartError(f'exec: "{argv[0]}": executable file not found in $PATH')
        attempt = slot.restarts
        cdir = self.pod_dir / "containers" / slot.name / str(attempt)
        cdir.mkdir(parents=True, exist_ok=True)
        term_file = cdir / "termination-log"
        term_file.write_bytes(b"")
        os.chmod(term_file, 0o666)
        mounts = mounts_for(c, self._volumes, self.pod, str(term_file), env)
        uid, gid, groups = self._security(c)
        notes: list[str] = []
        if not self._mount_ok:
            notes.append(f"devkubelet: volumes are not mounted: {self._mount_why}")
        if uid:
            obstacle = executable_by(resolved, int(uid), int(gid or 0), groups)
            if obstacle:
                # The host's interpreter is out of that user's reach (e.g. under /root):
                # run as the kubelet's user rather than not at all, and say so.
                note = f"runAsUser {uid} not applied: {obstacle} is not accessible to that user on this host"
                notes.append(f"devkubelet: {note}")
                self.event("RunAsUserIgnored", note, "Warning")
                uid, gid, groups = None, None, []
        spec = LaunchSpec(
            argv=argv, env=env, mounts=mounts,
            working_dir=c.get("workingDir") or entry.working_dir or "/",
            uid=uid, gid=gid, supplemental_groups=groups, use_mount_namespace=self._mount_ok,
            image_paths=image_paths(entry),
        )
        log_file = self.log_path(slot.name, attempt)
        if notes:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            with open(log_file, "a") as fh:
                for note in notes:
                    fh.write(format_line("stderr", note))
        proc = ContainerProcess(spec, cdir, log_file, on_exit=self.wake.set)
        proc.start()
        slot.proc = proc
        slot.final = None
        self.event("Pulled", f'Container image "{image}" already present on machine')
        self.event("Created", f"Created container {slot.name}")
        self.event("Started", f"Started container {slot.name}")

    def _try_start(self, slot: Slot) -> None:
        """Start a container; a configuration problem leaves it waiting, a start failure terminates it."""
        try:
            self._start(slot)
            slot.waiting_message = ""
        except ConfigError as exc:
            slot.waiting_reason = "CreateContainerConfigError"
            slot.waiting_message = str(exc)
            slot.next_start = time.monotonic() + 2.0
            self.event("Failed", f"Error: {exc}", "Warning")
        except (StartError, OSError) as exc:
            now = datetime.now(timezone.utc)
            slot.proc = None
            slot.final = ContainerFacts(
                slot.name, slot.spec.get("image", ""), "terminated", "StartError", str(exc), now, now, 128,
            )
            self.event("Failed", f"Error: {exc}", "Warning")

    def _collect(self) -> None:
        """Turn processes that ended into terminated facts (exit code, termination message)."""
        for slot in self.slots():
            proc = slot.proc
            if proc is None or proc.running or slot.final is not None:
                continue
            code = proc.exit_code if proc.exit_code is not None else 0
            term_path = self.pod_dir / "containers" / slot.name / str(slot.restarts) / "termination-log"
            try:
                text = term_path.read_bytes()
            except OSError:
                text = b""
            policy = slot.spec.get("terminationMessagePolicy") or "File"
            tail = tail_text(self.log_path(slot.name, slot.restarts), 80) if policy == "FallbackToLogsOnError" else []
            slot.final = ContainerFacts(
                slot.name, slot.spec.get("image", ""), "terminated", terminated_reason(code),
                termination_message(text, tail, code, policy), proc.started_at, proc.finished_at, code,
                container_id=f"devkubelet://{proc.proc.pid}" if proc.proc else "",
            )

    def _should_restart(self, slot: Slot) -> bool:
        if slot.final is None:
            return False
        policy = self.restart_policy
        return policy == "Always" or (policy == "OnFailure" and slot.final.exit_code != 0)

    def _schedule_restart(self, slot: Slot) -> None:
        assert slot.final is not None
        slot.last = slot.final
        slot.final = None
        slot.proc = None
        delay = min(BACKOFF_MAX, BACKOFF_START * 2 ** min(slot.restarts, 10))
        slot.restarts += 1
        slot.next_start = time.monotonic() + delay
        slot.waiting_reason = "CrashLoopBackOff"
        slot.waiting_message = f"back-off {int(delay)}s restarting failed container={slot.name} pod={self.pod_name}"

    # ---- the lifecycle -------------------------------------------------------------
    def run(self) -> None:
        try:
            try:
                self._lifecycle()
            except _DeadlineExceeded:
                self._stop_containers(self._grace(False), "DeadlineExceeded")
                self.outcome = PodOutcome("Failed", DEADLINE_REASON, DEADLINE_MESSAGE)
                self.event(DEADLINE_REASON, DEADLINE_MESSAGE, "Warning")
                self.push()
            self._await_deletion()
        except _Deleted:
            self._delete()
        except _Gone:
            self._stop_containers(2.0, "")
            self._cleanup()
        except Exception:
            log.exception("pod worker %s/%s crashed", self.namespace, self.pod_name)
            self._stop_containers(2.0, "")
        finally:
            self.m.worker_done(self.uid)

    def _prepare_volumes(self) -> None:
        while True:
            try:
                self._volumes = prepare_volumes(self.pod, self.pod_dir, self.m.volume_sources(self.pod))
                return
            except ConfigError as exc:
                for slot in self.slots():
                    slot.waiting_message = str(exc)
                self.event("FailedMount", str(exc), "Warning")
                self.push()
                self._tick(3.0)

    def _lifecycle(self) -> None:
        self.pod_dir.mkdir(parents=True, exist_ok=True)
        self.push()
        self._prepare_volumes()
        for slot in self.init_slots:
            slot.waiting_reason = "PodInitializing"
        for slot in self.init_slots:
            if not self._run_to_success(slot):
                return
        for slot in self.main_slots:
            self._try_start(slot)
        while True:
            self._collect()
            now = time.monotonic()
            for slot in self.main_slots:
                if self._should_restart(slot):
                    self._schedule_restart(slot)
                if slot.proc is None and slot.final is None and now >= slot.next_start:
                    self._try_start(slot)
            self._collect()
            phase = self.push()
            if phase in TERMINAL:
                return
            self._tick(0.5)

    def _run_to_success(self, slot: Slot) -> bool:
        """Run one init container until it succeeds; False when the Pod fails instead."""
        self._try_start(slot)
        while True:
            self._collect()
            if slot.final is not None:
                if slot.final.exit_code == 0:
                    self.push()
                    return True
                if self.restart_policy == "Never":
                    self.push()
                    return False
                self._schedule_restart(slot)
            if slot.proc is None and slot.final is None and time.monotonic() >= slot.next_start:
                self._try_start(slot)
                continue
            self.push()
            self._tick(0.5)

    def _grace(self, deleting: bool) -> float:
        meta_grace = self.pod["metadata"].get("deletionGracePeriodSeconds")
        if deleting and meta_grace is not None:
            return float(meta_grace)
        spec_grace = self.pod["spec"].get("terminationGracePeriodSeconds")
        return float(spec_grace) if spec_grace is not None else 30.0

    def _stop_containers(self, grace: float, why: str) -> None:
        live = [s.proc for s in self.slots() if s.proc is not None and s.proc.running]
        if not live:
            return
        for slot in self.slots():
            if slot.proc is not None and slot.proc.running and why:
                self.event("Killing", f"Stopping container {slot.name}")
        stop_all(live, grace)
        self._collect()

    def _await_deletion(self) -> None:
        while True:
            self._tick(30.0, deadline=False)

    def _delete(self) -> None:
        was_terminal = (self.pod.get("status") or {}).get("phase") in TERMINAL
        self._stop_containers(self._grace(True), "deleted")
        if not was_terminal:
            # Stopped containers get their terminated state before the object goes.
            try:
                self.push()
            except _Gone:
                pass
        try:
            self.m.api.delete(
                pod_path(self.namespace, self.pod_name),
                {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}},
            )
        except ApiError as exc:
            if exc.status not in (404, 409):
                log.warning("deleting %s/%s failed: %s", self.namespace, self.pod_name, exc)
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self.pod_dir, ignore_errors=True)


class PodManager:
    """Watches the Pods bound to this node and keeps one worker per Pod."""

    def __init__(
        self,
        api: KubeApi,
        node_name: str,
        state_dir: Path,
        image_map: dict[str, ImageEntry],
        allocatable: dict[str, str],
    ) -> None:
        self.api = api
        self.node_name = node_name
        self.state_dir = state_dir
        self.image_map = image_map
        self.allocatable = allocatable
        self.mounts = mounts_supported(state_dir / "probe")
        self.workers: dict[str, PodWorker] = {}
        self.finished: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.first_sync = threading.Event()
        self._thread = threading.Thread(target=self._watch_loop, name="pod-watch", daemon=True)

    # ---- lookups used by workers ---------------------------------------------------
    def pod_dir(self, namespace: str, name: str, uid: str) -> Path:
        return self.state_dir / "pods" / f"{namespace}_{name}_{uid}"

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.api.get_or_none(namespaced_path("secrets", namespace, name))

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.api.get_or_none(namespaced_path("configmaps", namespace, name))

    def volume_sources(self, pod: dict[str, Any]) -> VolumeSources:
        meta = pod["metadata"]

        def token(namespace: str, sa: str, spec: dict[str, Any]) -> str:
            body = {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": dict(spec, boundObjectRef={"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]}),
            }
            try:
                answer = self.api.create(namespaced_path("serviceaccounts", namespace, sa) + "/token", body)
            except ApiError as exc:
                raise ConfigError(f"token for service account {namespace}/{sa}: {exc}") from exc
            return answer["status"]["token"]

        return VolumeSources(self.get_secret, self.get_configmap, token, self.node_name)

    def event(self, pod: dict[str, Any], reason: str, message: str, kind: str = "Normal") -> None:
        meta = pod["metadata"]
        now = rfc3339(datetime.now(timezone.utc))
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": "v1", "kind": "Pod", "name": meta["name"], "namespace": meta["namespace"],
                "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "source": {"component": "kubelet", "host": self.node_name},
            "reportingComponent": "kubelet",
            "reportingInstance": self.node_name,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.api.create(f"/api/v1/namespaces/{meta['namespace']}/events", body)
        except Exception as exc:
            log.debug("event %s for %s not recorded: %s", reason, meta["name"], exc)

    # ---- log lookups for the log server --------------------------------------------
    def resolve_log(
        self, namespace: str, pod: str, container: str, previous: bool
    ) -> tuple[Path, Callable[[], bool]] | None:
        with self._lock:
            worker = next(
                (w for w in self.workers.values() if w.namespace == namespace and w.pod_name == pod), None
            )
        if worker is not None:
            slot = worker.find_slot(container)
            if slot is None:
                return None
            attempt = slot.restarts - 1 if previous else slot.restarts
            if attempt < 0:
                return None
            path = worker.log_path(container, attempt)
            if path.exists():
                if previous:
                    return path, lambda: False
                return path, lambda: slot.proc is not None and slot.proc.running and slot.restarts == attempt
        dirs = sorted(
            (self.state_dir / "pods").glob(f"{namespace}_{pod}_*"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for pod_dir in dirs:
            attempts = sorted(int(p.stem) for p in (pod_dir / "logs" / container).glob("*.log"))
            if attempts:
                attempt = attempts[-2] if previous and len(attempts) > 1 else attempts[-1]
                if previous and len(attempts) < 2:
                    return None
                return pod_dir / "logs" / container / f"{attempt}.log", lambda: False
        return None

    # ---- the watch -----------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, grace: float = 2.0) -> None:
        """Stop watching and stop every local process (the API objects are left as they are)."""
        self._stop.set()
        with self._lock:
            workers = list(self.workers.values())
        procs = [s.proc for w in workers for s in w.slots() if s.proc is not None and s.proc.running]
        stop_all(procs, grace)

    def worker_done(self, uid: str) -> None:
        with self._lock:
            self.workers.pop(uid, None)
            self.finished.add(uid)

    def _list(self) -> tuple[list[dict[str, Any]], str]:
        answer = self.api.get("/api/v1/pods", {"fieldSelector": f"spec.nodeName={self.node_name}"})
        return answer.get("items") or [], answer["metadata"]["resourceVersion"]

    def _watch_loop(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                pods, rv = self._list()
                if first:
                    self.recover(pods)
                    first = False
                self._resync(pods)
                self.first_sync.set()
                while not self._stop.is_set():
                    for event in self.api.watch(
                        "/api/v1/pods", {"fieldSelector": f"spec.nodeName={self.node_name}", "resourceVersion": rv}
                    ):
                        kind = event.get("type")
                        obj = event.get("object") or {}
                        if kind == "ERROR":
                            raise ApiError(int(obj.get("code") or 500), str(obj.get("message")))
                        rv = obj.get("metadata", {}).get("resourceVersion", rv)
                        if kind in ("ADDED", "MODIFIED"):
                            self.handle(obj)
                        elif kind == "DELETED":
                            self.handle_deleted(obj)
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.info("pod watch restarts: %s", exc)
                time.sleep(1.0)

    def _resync(self, pods: list[dict[str, Any]]) -> None:
        seen = {p["metadata"]["uid"] for p in pods}
        with self._lock:
            vanished = [w for uid, w in self.workers.items() if uid not in seen]
        for worker in vanished:
            worker.mark_gone()
        for pod in pods:
            self.handle(pod)

    def handle(self, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        with self._lock:
            worker = self.workers.get(uid)
            if worker is None and uid not in self.finished:
                phase = (pod.get("status") or {}).get("phase")
                if pod["metadata"].get("deletionTimestamp"):
                    if phase in TERMINAL or not pod_started(pod):
                        self.finished.add(uid)
                        threading.Thread(target=self._remove, args=(pod,), daemon=True).start()
                        return
                if phase in TERMINAL:
                    # Finished before we saw it (or before a restart): only its deletion is our business.
                    worker = PodWorker(self, pod)
                    worker.outcome = None
                    threading.Thread(target=self._await_finished, args=(worker,), daemon=True).start()
                    self.workers[uid] = worker
                    return
                worker = PodWorker(self, pod)
                self.workers[uid] = worker
                worker.start()
                return
        if worker is not None:
            worker.update(pod)

    def _await_finished(self, worker: PodWorker) -> None:
        try:
            worker._await_deletion()
        except _Deleted:
            self._remove(worker.pod)
        except _Gone:
            pass
        finally:
            self.worker_done(worker.uid)

    def handle_deleted(self, pod: dict[str, Any]) -> None:
        with self._lock:
            worker = self.workers.get(pod["metadata"]["uid"])
        if worker is not None:
            worker.mark_gone()

    def _remove(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            self.api.delete(
                pod_path(meta["namespace"], meta["name"]),
                {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}},
            )
        except ApiError as exc:
            if exc.status not in (404, 409):
                log.warning("deleting %s/%s failed: %s", meta["namespace"], meta["name"], exc)
        shutil.rmtree(self.pod_dir(meta["namespace"], meta["name"], meta["uid"]), ignore_errors=True)

    # ---- restart safety ------------------------------------------------------------
    def recover(self, pods: list[dict[str, Any]]) -> None:
        """After a kubelet restart: kill processes a previous kubelet left, fail Pods that were running.

        A Pod with restartPolicy Never whose containers had started cannot be resumed
        (its processes, pipes and exit codes are gone), so it is marked Failed with
        reason NodeRestarted; Pods that never started are simply run.
        """
        for pod in pods:
            meta = pod["metadata"]
            pod_dir = self.pod_dir(meta["namespace"], meta["name"], meta["uid"])
            for pid_file in pod_dir.glob("containers/*/*/pid.json"):
                if kill_orphan(pid_file):
                    log.info("killed a leftover process of %s/%s", meta["namespace"], meta["name"])
            phase = (pod.get("status") or {}).get("phase")
            if phase in TERMINAL or meta.get("deletionTimestamp") or not pod_started(pod):
                continue
            if (pod["spec"].get("restartPolicy") or "Always") != "Never":
                continue  # the worker restarts its containers
            try:
                self.api.merge_patch(
                    pod_path(meta["namespace"], meta["name"]) + "/status",
                    {"status": lost_pod_status(pod, datetime.now(timezone.utc))},
                )
                pod.setdefault("status", {})["phase"] = "Failed"
                self.event(pod, "NodeRestarted", "the kubelet restarted; the Pod's processes were lost", "Warning")
            except ApiError as exc:
                log.warning("could not mark %s/%s failed: %s", meta["namespace"], meta["name"], exc)
