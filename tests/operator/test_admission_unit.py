"""Fair admission (pure plan) and the Admission object's modes, with a fake slot store."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from dubbing_operator.admission import Admission, QueueEntry, fair_order, plan

from .helpers import T0


def e(key, user, minute, prio=50, gpu=True, active=False):
    return QueueEntry(key, user, prio, T0 + timedelta(minutes=minute), gpu, active)


def test_round_robin_across_users_then_priority_then_age():
    waiting = [
        e("a1", "alice", 0),
        e("a2", "alice", 1),
        e("a3", "alice", 2),
        e("b1", "bob", 3),
        e("b2", "bob", 4, prio=90),
    ]
    order = [x.key for x in fair_order(waiting, Counter())]
    assert order == ["b2", "a1", "a2", "b1", "a3"]


def test_limit_one_three_jobs_two_users():
    entries = [e("a1", "alice", 0, active=True), e("a2", "alice", 1), e("b1", "bob", 2)]
    p = plan(entries, max_gpu_jobs=1, max_per_user=5)
    assert p.admit == [] and p.positions == {"b1": 1, "a2": 2}
    p = plan([e("a2", "alice", 1), e("b1", "bob", 2)], 1, 5, served={"alice": T0})  # a1 finished
    assert p.admit == ["b1"] and p.positions == {"a2": 1}


def test_per_user_limit_lets_other_users_pass_and_cpu_jobs_skip_gpu_limit():
    entries = [e("a1", "alice", 0, active=True), e("a2", "alice", 1), e("b1", "bob", 2), e("c1", "carol", 3, gpu=False)]
    p = plan(entries, max_gpu_jobs=2, max_per_user=1)
    assert p.admit == ["b1", "c1"] and p.positions == {"a2": 1}
    assert "limit 1" in p.reasons["a2"]


class FakeStore:
    def __init__(self):
        self.up = True
        self.claims: list[str] = []
        self.resyncs = 0

    def _check(self):
        if not self.up:
            raise ConnectionError("down")

    def ping(self):
        self._check()
        return True

    def claim(self, entry, g, u):
        self._check()
        self.claims.append(entry.key)
        return True

    def release(self, key):
        self._check()

    def resync(self, active, positions):
        self._check()
        self.resyncs += 1


def test_mode_flips_to_apiserver_and_back_without_losing_admissions():
    modes: list[str] = []
    store = FakeStore()
    adm = Admission(1, 5, store, modes.append)
    adm.update(e("a1", "alice", 0), "a1")
    adm.update(e("b1", "bob", 1), "b1")
    assert adm.decide("a1")[0] is False  # no full view yet
    adm.replace_all(dict(adm.entries))
    assert adm.decide("a1") == (True, None, "")
    assert store.claims == [] and adm.mode == "redis"  # no claim before the first resync from the API server
    adm.tick()
    store.up = False
    adm.update(e("a1", "alice", 0, active=True), "a1")
    adm.tick()
    assert adm.mode == "apiserver" and modes == ["apiserver"]
    assert adm.decide("b1")[0] is False and adm.decide("b1")[1] == 1
    adm.update(None, "a1")  # a1 finished while Redis was down
    assert adm.decide("b1")[0] is True
    store.up = True
    adm.tick()
    assert adm.mode == "redis" and modes == ["apiserver", "redis"] and store.resyncs == 2
