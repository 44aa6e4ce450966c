"""Leader election on a ``coordination.k8s.io/v1`` Lease, so that several operator replicas can run
and exactly one of them reconciles.

The rules are the usual ones of Kubernetes controllers:

* A replica that finds no Lease creates it, holding it. One that finds the Lease without a holder
  (released by a leader that stopped cleanly) takes it.
* A replica that holds the Lease renews it every ``retry_seconds``; if it has not managed to renew
  for ``renew_deadline_seconds`` it must stop reconciling at once (the process exits), because
  from ``lease_duration_seconds`` on another replica may take over.
* A replica that does not hold it takes it over only when the record (holder, renewTime) has not
  changed for ``lease_duration_seconds`` *of its own clock* since it first saw that record: the
  holder's timestamps are never compared with the local clock, so clock skew between nodes does not
  shorten the lease.
* Every write carries the resourceVersion it read: of two replicas racing for the Lease, the API
  server lets one win and refuses the other with 409.
* No call waits without end: each Lease call gives up after ``call_timeout`` (half the renew
  deadline at most), and a watchdog stops the leader when the renew deadline passes even while a
  call still hangs, so a leader that cannot reach the API server never outlives its Lease.

``decide`` is the whole decision, a pure function; ``LeaseElector`` does the reads and writes.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from urllib3 import HTTPResponse

log = logging.getLogger(__name__)

Action = Literal["create", "renew", "take", "wait"]


@dataclass(frozen=True)
class LeaseRecord:
    """What the Lease says, as read."""

    holder: str | None
    renew_time: str | None
    acquire_time: str | None
    duration_seconds: int
    transitions: int
    resource_version: str

    @property
    def key(self) -> tuple[str | None, str | None, str]:
        """Changes whenever the holder renews or another replica takes the Lease."""
        return (self.holder, self.renew_time, self.resource_version)

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> LeaseRecord:
        spec = obj.get("spec") or {}
        return cls(
            holder=spec.get("holderIdentity") or None,
            renew_time=spec.get("renewTime"),
            acquire_time=spec.get("acquireTime"),
            duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            transitions=int(spec.get("leaseTransitions") or 0),
            resource_version=str((obj.get("metadata") or {}).get("resourceVersion") or ""),
        )


def decide(record: LeaseRecord | None, me: str, unchanged_for: float) -> Action:
    """What this replica does with the Lease it just read.

    ``unchanged_for``: seconds of the local monotonic clock since this replica first saw
    ``record.key`` (0 when it has just changed).
    """
    if record is None:
        return "create"
    if record.holder == me:
        return "renew"
    if record.holder is None:
        return "take"
    if unchanged_for >= record.duration_seconds:
        return "take"
    return "wait"


def call_timeout(renew_deadline_seconds: float, retry_seconds: float) -> float:
    """How long one Lease call may wait: at most half the renew deadline, so that a hanging call
    leaves time for another try before the deadline; not below a fifth of a second."""
    return max(0.2, min(renew_deadline_seconds / 2, max(retry_seconds * 2, 1.0)))


def micro_time(when: datetime) -> str:
    """A ``metav1.MicroTime`` string (always six fractional digits, UTC)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    """The Pod's name (its hostname) plus a random suffix, so a restarted container is a new holder."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class LeaseElector:
    """Acquire, renew and release one Lease through the Kubernetes API."""

    def __init__(
        self,
        api_client: Any,  # kubernetes.client.ApiClient
        namespace: str,
        name: str,
        identity: str | None = None,
        lease_duration_seconds: int = 15,
        renew_deadline_seconds: float = 10.0,
        retry_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < renew_deadline_seconds < lease_duration_seconds:
            raise ValueError("the renew deadline must be shorter than the lease duration")
        from kubernetes import client

        self.api = client.CoordinationV1Api(api_client)
        self.namespace, self.name = namespace, name
        self.identity = identity or default_identity()
        self.duration = int(lease_duration_seconds)
        self.renew_deadline = renew_deadline_seconds
        self.retry = retry_seconds
        self.clock = clock
        self.call_timeout = call_timeout(renew_deadline_seconds, retry_seconds)
        self._seen: tuple[tuple[str | None, str | None, str], float] | None = None
        self._last_renewed: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None

    # ---- one round ------------------------------------------------------------------
    def _read(self) -> LeaseRecord | None:
        from kubernetes.client.exceptions import ApiException

        try:
            # with _preload_content=False the client returns the raw urllib3 response, not the V1Lease its stub says
            resp = cast(
                "HTTPResponse",
                self.api.read_namespaced_lease(
                    self.name, self.namespace, _preload_content=False, _request_timeout=self.call_timeout
                ),
            )
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return LeaseRecord.from_object(json.loads(resp.data))

    def _spec(self, transitions: int, acquired: bool) -> dict[str, Any]:
        now = micro_time(datetime.now(UTC))
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.duration,
            "renewTime": now,
            "leaseTransitions": transitions,
        }
        if acquired:
            spec["acquireTime"] = now
        return spec

    def try_once(self) -> bool:
        """Read the Lease and act on it; True if this replica holds it afterwards."""
        from kubernetes.client.exceptions import ApiException

        record = self._read()
        now = self.clock()
        unchanged_for = 0.0
        if record is not None:
            if self._seen is None or self._seen[0] != record.key:
                self._seen = (record.key, now)
            unchanged_for = now - self._seen[1]
        action = decide(record, self.identity, unchanged_for)
        if action == "wait":
            return False
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
        }
        try:
            if action == "create":
                body["spec"] = self._spec(0, acquired=True)
                self.api.create_namespaced_lease(self.namespace, body, _request_timeout=self.call_timeout)  # type: ignore[arg-type]  # stub wrong: the client also takes a plain dict body
            else:
                assert record is not None
                body["metadata"]["resourceVersion"] = record.resource_version
                taking = action == "take"
                body["spec"] = self._spec(record.transitions + (1 if taking else 0), acquired=taking)
                if not taking and record.acquire_time:
                    body["spec"]["acquireTime"] = record.acquire_time
                self.api.replace_namespaced_lease(self.name, self.namespace, body, _request_timeout=self.call_timeout)  # type: ignore[arg-type]  # stub wrong: the client also takes a plain dict body
                if taking:
                    log.info("took the lease %s/%s over from %s", self.namespace, self.name, record.holder or "nobody")
        except ApiException as err:
            if err.status in (409, 422):  # another replica wrote first
                return False
            raise
        self._last_renewed = self.clock()
        return True

    # ---- the loop -------------------------------------------------------------------
    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Block until this replica holds the Lease (True) or ``stop`` is set (False)."""
        stop = stop or self._stop
        announced = False
        while not stop.is_set():
            try:
                if self.try_once():
                    log.info("leading: holding lease %s/%s as %s", self.namespace, self.name, self.identity)
                    return True
            except Exception as err:  # noqa: BLE001 - the API server may be away for a while; keep trying
                log.warning("could not read or write lease %s/%s: %s", self.namespace, self.name, err)
            if not announced:
                log.info("standing by: lease %s/%s is held by another replica", self.namespace, self.name)
                announced = True
            stop.wait(self.retry)
        return False

    def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew the Lease in a thread; call ``on_lost`` once if renewing fails for the renew deadline.

        A second thread watches the deadline, so ``on_lost`` comes in time even while a renewal
        hangs in a call that has not yet timed out.
        """
        lost_once = threading.Lock()

        def lose(why: str) -> None:
            if lost_once.acquire(blocking=False):
                log.error(
                    "lost lease %s/%s (%s): stopping so that only one replica reconciles",
                    self.namespace,
                    self.name,
                    why,
                )
                self._stop.set()
                on_lost()

        def renew() -> None:
            while not self._stop.wait(self.retry):
                try:
                    held = self.try_once()
                except Exception as err:  # noqa: BLE001 - a failed renewal is retried until the deadline
                    log.warning("could not renew lease %s/%s: %s", self.namespace, self.name, err)
                    held = self.holds()  # still the leader until the renew deadline passes
                if not held:
                    lose("taken over or not renewed within the deadline")
                    return

        def watchdog() -> None:
            while not self._stop.wait(min(self.retry, 0.5)):
                if not self.holds():
                    lose(f"no renewal for {self.renew_deadline:g} s")
                    return

        self._thread = threading.Thread(target=renew, name="lease", daemon=True)
        self._thread.start()
        self._watchdog = threading.Thread(target=watchdog, name="lease-watchdog", daemon=True)
        self._watchdog.start()

    def holds(self) -> bool:
        """Whether the last successful renewal is recent enough to act as the leader."""
        return self._last_renewed is not None and self.clock() - self._last_renewed < self.renew_deadline

    def release(self) -> None:
        """Stop renewing and hand the Lease back, so a standby takes over at once instead of after it expires."""
        from kubernetes.client.exceptions import ApiException

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.retry + 5)
        try:
            record = self._read()
            if record is None or record.holder != self.identity:
                return
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": self.name,
                    "namespace": self.namespace,
                    "resourceVersion": record.resource_version,
                },
                "spec": {"leaseDurationSeconds": 1, "leaseTransitions": record.transitions},
            }
            self.api.replace_namespaced_lease(self.name, self.namespace, body, _request_timeout=self.call_timeout)  # type: ignore[arg-type]  # stub wrong: the client also takes a plain dict body
            log.info("released lease %s/%s", self.namespace, self.name)
        except (ApiException, OSError) as err:
            log.warning("could not release lease %s/%s (it expires by itself): %s", self.namespace, self.name, err)
