"""Leader election: the pure decision, the Lease protocol against the real API server, and two
operator replicas of which one reconciles and the other takes over."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC

import pytest

from dubbing.api.v1alpha1 import STAGES
from dubbing_operator.leader import LeaseElector, LeaseRecord, decide, micro_time

from .conftest import apply_job, job_manifest, job_pods, wait_for, wait_phase


def record(holder: str | None, duration: int = 15, rv: str = "1") -> LeaseRecord:
    return LeaseRecord(holder, "2026-01-01T00:00:00.000000Z", None, duration, 0, rv)


@pytest.mark.parametrize(
    ("lease", "unchanged_for", "action"),
    [
        (None, 0, "create"),  # nobody has made the Lease yet
        (record("me"), 100, "renew"),  # mine, whatever the clock says
        (record(None), 0, "take"),  # released by a leader that stopped cleanly
        (record("other"), 14.9, "wait"),  # held, and renewed within the duration as far as we saw
        (record("other"), 15, "take"),  # unchanged for a whole duration of our own clock: expired
        (record("other", duration=0), 0, "take"),  # a zero duration has expired as soon as it is seen
    ],
)
def test_decide(lease, unchanged_for, action):
    assert decide(lease, "me", unchanged_for) == action


def test_micro_time_always_has_six_digits():
    from datetime import datetime

    assert micro_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _elector(kube, namespace: str, identity: str, clock=time.monotonic) -> LeaseElector:
    return LeaseElector(kube.api_client(), namespace, "dubbing-operator", identity,
                        lease_duration_seconds=3, renew_deadline_seconds=2, retry_seconds=0.2, clock=clock)  # fmt: skip


def _lease(kube, namespace: str) -> dict:
    from kubernetes import client

    return (
        client.CoordinationV1Api(kube.api_client()).read_namespaced_lease("dubbing-operator", namespace).spec.to_dict()
    )


def test_lease_is_taken_over_only_after_it_expires_on_the_standbys_clock(kube, namespace):
    clock_a, clock_b = FakeClock(), FakeClock()
    a = _elector(kube, namespace, "a", clock_a)
    b = _elector(kube, namespace, "b", clock_b)
    assert a.try_once() and _lease(kube, namespace)["holder_identity"] == "a"
    assert not b.try_once()  # held by a: b starts counting from what it saw
    clock_b.now += 2.9
    assert not b.try_once()  # a has not renewed, but the duration (3 s of b's clock) is not over
    clock_a.now += 1
    assert a.try_once()  # a renews: the record changes, b starts counting again
    clock_b.now += 2.9
    assert not b.try_once()
    clock_b.now += 3.0  # a stopped renewing a whole duration ago as b sees it
    assert b.try_once()
    spec = _lease(kube, namespace)
    assert spec["holder_identity"] == "b" and spec["lease_transitions"] == 1
    assert not a.try_once()  # a sees b holding a fresh record
    b.release()
    assert _lease(kube, namespace)["holder_identity"] is None
    assert a.try_once() and _lease(kube, namespace)["lease_transitions"] == 2  # released: no wait


def test_two_replicas_racing_for_a_new_lease_one_wins(kube, namespace):
    electors = [_elector(kube, namespace, f"r{i}") for i in range(4)]
    won: list[str] = []
    barrier = threading.Barrier(len(electors))

    def race(e: LeaseElector) -> None:
        barrier.wait()
        if e.try_once():
            won.append(e.identity)

    threads = [threading.Thread(target=race, args=(e,)) for e in electors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(won) == 1 and _lease(kube, namespace)["holder_identity"] == won[0]


def test_a_leader_that_cannot_renew_gives_up_within_the_renew_deadline(kube, namespace):
    a = _elector(kube, namespace, "a")
    assert a.try_once()
    lost = threading.Event()
    b = _elector(kube, namespace, "b")
    b.try_once()
    time.sleep(3.2)  # a has not renewed for a lease duration: b takes the Lease
    assert b.try_once()
    a.keep(on_lost=lost.set)  # a's next renewal finds b's record and stops at once
    assert lost.wait(5)
    a.release()  # a no longer holds it: the release leaves b's Lease alone
    assert _lease(kube, namespace)["holder_identity"] == "b"


# ---- two operator replicas --------------------------------------------------------------------


def _is_leader(op) -> bool | None:
    try:
        text = op.metrics()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("dubbing_operator_leader "):
            return float(line.split()[1]) == 1.0
    return None


def test_two_operator_replicas_one_reconciles_and_the_standby_takes_over(kube, namespace, start_operator, plan_dir):
    lease = {
        "DUBBING_LEADER_ELECTION_NAMESPACE": namespace,
        "DUBBING_LEASE_DURATION_SECONDS": "6",
        "DUBBING_LEASE_RENEW_DEADLINE_SECONDS": "4",
        "DUBBING_LEASE_RETRY_SECONDS": "0.5",
    }
    a = start_operator(**lease)
    wait_for("replica a to lead", lambda: _is_leader(a) is True, 60)
    b = start_operator(**lease)
    wait_for("replica b to stand by", lambda: _is_leader(b) is False, 60)
    plan = {"default": {"sleep": 0.5}, "asr": {"sleep": 3}}
    apply_job(kube, job_manifest("ha", namespace), plan_dir, plan)
    wait_for("asr to run", lambda: any(p["metadata"]["labels"]["dubbing.dev/stage"] == "asr"
                                       for p in job_pods(kube, namespace, "ha")), 120)  # fmt: skip
    assert _is_leader(b) is False  # the standby has not started reconciling meanwhile
    killed_at = time.monotonic()
    a.kill()
    wait_for("replica b to take over", lambda: _is_leader(b) is True, 30, 0.1)
    takeover_s = time.monotonic() - killed_at
    print(f"standby took over {takeover_s:.1f} s after the leader was killed (lease 6 s)")
    assert 4 < takeover_s < 6 + 5, takeover_s  # about the lease duration: not before the renew deadline, not much later
    job = wait_phase(kube, namespace, "ha", ("Succeeded", "Failed"), timeout=180)
    assert job["status"]["phase"] == "Succeeded", job["status"]
    counts = Counter(p["metadata"]["labels"]["dubbing.dev/stage"] for p in job_pods(kube, namespace, "ha"))
    assert counts == Counter({s: 1 for s in STAGES}), counts
    journal = (plan_dir / f"{namespace}_ha.log").read_text().split("\n")
    starts = Counter(line.split()[0] for line in journal if line.split()[1:2] == ["start"])
    assert starts == Counter({s: 1 for s in STAGES}), starts  # no stage ran twice across the handover

    # A clean stop hands the Lease back: a new standby leads at once, not after the expiry.
    c = start_operator(**lease)
    wait_for("replica c to stand by", lambda: _is_leader(c) is False, 60)
    b.stop()  # SIGTERM: kopf stops gracefully (b renews meanwhile), then b releases the Lease and exits
    assert b.proc.returncode == 0
    exited_at = time.monotonic()
    wait_for("replica c to lead", lambda: _is_leader(c) is True, 10, 0.1)
    # Not released, the Lease would be free only a whole duration (6 s) after b's last renewal.
    handover_s = time.monotonic() - exited_at
    print(f"a clean stop handed over in {handover_s:.1f} s")
    assert handover_s < 3.5, "c waited for the expiry instead of taking the released Lease"
    apply_job(kube, job_manifest("ha2", namespace), plan_dir, {"default": {"sleep": 0.1}})
    assert wait_phase(kube, namespace, "ha2", ("Succeeded", "Failed"), timeout=120)["status"]["phase"] == "Succeeded"


def test_a_leader_whose_api_server_hangs_stops_before_its_lease_can_be_taken(kube, namespace, tmp_path):
    """The API server accepts the leader's connections and answers nothing: the leader must stop
    within its renew deadline, before a standby may take the Lease (lease duration), however long the
    hanging renewal would wait."""
    import yaml
    from kubernetes import config

    from tests.fixtures.netfaults import FreezingProxy

    doc = yaml.safe_load(kube.kubeconfig.read_text())
    server = doc["clusters"][0]["cluster"]["server"]
    proxy = FreezingProxy(int(server.rsplit(":", 1)[1]))
    try:
        doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(doc))
        a = LeaseElector(config.new_client_from_config(config_file=str(path)), namespace, "dubbing-operator", "a",
                         lease_duration_seconds=4, renew_deadline_seconds=2, retry_seconds=0.2)  # fmt: skip
        assert a.try_once()
        lost = threading.Event()
        a.keep(on_lost=lost.set)
        time.sleep(0.6)  # a few renewals go through
        assert not lost.is_set()
        frozen_at = time.monotonic()
        proxy.freeze()
        assert lost.wait(4 - 0.5), "the leader still acts while its Lease may already be someone else's"
        assert time.monotonic() - frozen_at < 4
    finally:
        proxy.close()
