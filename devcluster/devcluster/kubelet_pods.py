"""The Pod lifecycle: one worker thread per Pod bound to this node.

A worker prepares the volumes, runs the init containers one after another, then
the main containers, and reports status after every change. Deletion (a
deletionTimestamp) stops the processes with SIGTERM, the grace period, then
SIGKILL, and removes the Pod object; activeDeadlineSeconds fails the Pod with
DeadlineExceeded. `PodManager` watches the Pods bound to the node and feeds the
workers; on start it fails the Pods a previous kubelet left running.

A worker's containers are started, collected, restarted and stopped by its
`Containers` (devcluster.kubelet_containers); its status is written by its `StatusReporter`.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devcluster.kubelet_api import ApiError, KubeApi, namespaced_path, pod_path
from devcluster.kubelet_containers import Containers, Slot
from devcluster.kubelet_env import ConfigError
from devcluster.kubelet_hollow import HollowRunner
from devcluster.kubelet_runtime import ImageEntry, kill_orphan, mounts_supported, stop_all
from devcluster.kubelet_status import (
    DEADLINE_MESSAGE,
    DEADLINE_REASON,
    PodOutcome,
    deadline_passed,
    lost_pod_status,
    pod_started,
    pod_status,
    rfc3339,
)
from devcluster.kubelet_volumes import VolumeSources, prepare_volumes

log = logging.getLogger("devkubelet.pods")

TERMINAL = ("Succeeded", "Failed")


class _Deleted(Exception):
    pass


class _Gone(Exception):
    pass


class _DeadlineExceeded(Exception):
    pass


def _rv(obj: dict[str, Any]) -> int:
    try:
        return int(obj.get("metadata", {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class PodWorker(threading.Thread):
    """Runs one Pod from bind to removal."""

    def __init__(self, manager: PodManager, pod: dict[str, Any], first_restart: int = 0) -> None:
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
        self.start_time = datetime.now(UTC)
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
        self.containers = Containers(self, manager.mounts)
        self.report = StatusReporter(self)

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
            self.start_time, self.pod["spec"].get("activeDeadlineSeconds"), datetime.now(UTC)
        ):
            raise _DeadlineExceeded()

    def push(self) -> str:
        return self.report.push()

    def event(self, reason: str, message: str, kind: str = "Normal") -> None:
        self.m.event(self.pod, reason, message, kind)

    # ---- the lifecycle -------------------------------------------------------------
    def run(self) -> None:
        try:
            try:
                self._lifecycle()
            except _DeadlineExceeded:
                self.containers.stop(self._grace(False), "DeadlineExceeded")
                self.outcome = PodOutcome("Failed", DEADLINE_REASON, DEADLINE_MESSAGE)
                self.event(DEADLINE_REASON, DEADLINE_MESSAGE, "Warning")
                self.push()
            self._await_deletion()
        except _Deleted:
            self._remove_pod()
        except _Gone:
            self.containers.stop(2.0, "")
            self._cleanup()
        except Exception:
            log.exception("pod worker %s/%s crashed", self.namespace, self.pod_name)
            self.containers.stop(2.0, "")
        finally:
            self.m.worker_done(self.uid)

    def _prepare_volumes(self) -> None:
        while True:
            try:
                self.containers.volumes = prepare_volumes(self.pod, self.pod_dir, self.m.volume_sources(self.pod))
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
            self.containers.try_start(slot)
        while True:
            self.containers.collect()
            now = time.monotonic()
            for slot in self.main_slots:
                if self.containers.should_restart(slot):
                    self.containers.schedule_restart(slot)
                if slot.proc is None and slot.final is None and now >= slot.next_start:
                    self.containers.try_start(slot)
            self.containers.collect()
            phase = self.push()
            if phase in TERMINAL:
                return
            self._tick(0.5)

    def _run_to_success(self, slot: Slot) -> bool:
        """Run one init container until it succeeds; False when the Pod fails instead."""
        self.containers.try_start(slot)
        while True:
            self.containers.collect()
            if slot.final is not None:
                if slot.final.exit_code == 0:
                    self.push()
                    return True
                if self.restart_policy == "Never":
                    self.push()
                    return False
                self.containers.schedule_restart(slot)
            if slot.proc is None and slot.final is None and time.monotonic() >= slot.next_start:
                self.containers.try_start(slot)
                continue
            self.push()
            self._tick(0.5)

    def _grace(self, deleting: bool) -> float:
        meta_grace = self.pod["metadata"].get("deletionGracePeriodSeconds")
        if deleting and meta_grace is not None:
            return float(meta_grace)
        spec_grace = self.pod["spec"].get("terminationGracePeriodSeconds")
        return float(spec_grace) if spec_grace is not None else 30.0

    def _await_deletion(self) -> None:
        while True:
            self._tick(30.0, deadline=False)

    def _remove_pod(self) -> None:
        was_terminal = (self.pod.get("status") or {}).get("phase") in TERMINAL
        self.containers.stop(self._grace(True), "deleted")
        if not was_terminal:
            # Stopped containers get their terminated state before the object goes.
            try:
                self.push()
            except _Gone:
                pass
        try:
            self.m.api.delete(
                pod_path(self.namespace, self.pod_name),
                {
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "gracePeriodSeconds": 0,
                    "preconditions": {"uid": self.uid},
                },
            )
        except ApiError as exc:
            if exc.status not in (404, 409):
                log.warning("deleting %s/%s failed: %s", self.namespace, self.pod_name, exc)
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self.pod_dir, ignore_errors=True)


class StatusReporter:
    """A Pod worker's status: made from its containers' facts, written to the API server when it changed."""

    def __init__(self, worker: PodWorker) -> None:
        self.w = worker
        self._pushed: dict[str, Any] | None = None

    def status(self) -> dict[str, Any]:
        w = self.w
        return pod_status(
            init=[s.facts() for s in w.init_slots],
            main=[s.facts() for s in w.main_slots],
            restart_policy=w.restart_policy,
            start_time=w.start_time,
            now=datetime.now(UTC),
            previous_conditions=(w.pod.get("status") or {}).get("conditions") or [],
            outcome=w.outcome,
        )

    def push(self) -> str:
        """Write the status if it changed (the API's answer becomes the worker's Pod); its phase."""
        w = self.w
        status = self.status()
        if status != self._pushed:
            try:
                updated = w.m.api.merge_patch(pod_path(w.namespace, w.pod_name) + "/status", {"status": status})
                w._adopt(updated)
                self._pushed = status
            except ApiError as exc:
                if exc.status == 404:
                    raise _Gone() from exc
                log.warning("status update of %s/%s failed: %s", w.namespace, w.pod_name, exc)
            except Exception as exc:  # noqa: BLE001 - apiserver briefly unreachable: retry on the next tick
                log.warning("status update of %s/%s failed: %s", w.namespace, w.pod_name, exc)
        return status["phase"]


class PodManager:
    """Watches the Pods bound to this node and keeps one worker per Pod."""

    def __init__(
        self,
        api: KubeApi,
        node_name: str,
        state_dir: Path,
        image_map: dict[str, ImageEntry],
        allocatable: dict[str, str],
        hollow_seconds: float | None = None,
    ) -> None:
        self.api = api
        # A hollow node runs no process: its Pods are played by the runner (see kubelet_hollow).
        self.hollow = HollowRunner(api, hollow_seconds) if hollow_seconds is not None else None
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
                "spec": dict(
                    spec, boundObjectRef={"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]}
                ),
            }
            try:
                answer = self.api.create(namespaced_path("serviceaccounts", namespace, sa) + "/token", body)
            except ApiError as exc:
                raise ConfigError(f"token for service account {namespace}/{sa}: {exc}") from exc
            return answer["status"]["token"]

        return VolumeSources(self.get_secret, self.get_configmap, token, self.node_name)

    def event(self, pod: dict[str, Any], reason: str, message: str, kind: str = "Normal") -> None:
        meta = pod["metadata"]
        now = rfc3339(datetime.now(UTC))
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
                "resourceVersion": meta.get("resourceVersion", ""),
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
        except Exception as exc:  # noqa: BLE001 - an event is best effort
            log.debug("event %s for %s not recorded: %s", reason, meta["name"], exc)

    # ---- log lookups for the log server --------------------------------------------
    def resolve_log(
        self, namespace: str, pod: str, container: str, previous: bool
    ) -> tuple[Path, Callable[[], bool]] | None:
        with self._lock:
            worker = next((w for w in self.workers.values() if w.namespace == namespace and w.pod_name == pod), None)
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
        if self.hollow is not None:
            self.hollow.start()
        self._thread.start()

    def stop(self, grace: float = 2.0) -> None:
        """Stop watching and stop every local process (the API objects are left as they are)."""
        self._stop.set()
        if self.hollow is not None:
            self.hollow.stop()
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
                if first and self.hollow is None:
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
            except Exception as exc:  # noqa: BLE001 - any watch failure: list and watch again
                if self._stop.is_set():
                    return
                log.info("pod watch restarts: %s", exc)
                time.sleep(1.0)

    def _resync(self, pods: list[dict[str, Any]]) -> None:
        seen = {p["metadata"]["uid"] for p in pods}
        if self.hollow is not None:
            self.hollow.resync(seen)
        with self._lock:
            vanished = [w for uid, w in self.workers.items() if uid not in seen]
        for worker in vanished:
            worker.mark_gone()
        for pod in pods:
            self.handle(pod)

    def handle(self, pod: dict[str, Any]) -> None:
        if self.hollow is not None:
            self.hollow.handle(pod)
            return
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
        if self.hollow is not None:
            self.hollow.handle_deleted(pod)
            return
        with self._lock:
            worker = self.workers.get(pod["metadata"]["uid"])
        if worker is not None:
            worker.mark_gone()

    def _remove(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            self.api.delete(
                pod_path(meta["namespace"], meta["name"]),
                {
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "gracePeriodSeconds": 0,
                    "preconditions": {"uid": meta["uid"]},
                },
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
                    {"status": lost_pod_status(pod, datetime.now(UTC))},
                )
                pod.setdefault("status", {})["phase"] = "Failed"
                self.event(pod, "NodeRestarted", "the kubelet restarted; the Pod's processes were lost", "Warning")
            except ApiError as exc:
                log.warning("could not mark %s/%s failed: %s", meta["namespace"], meta["name"], exc)
