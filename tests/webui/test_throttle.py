"""Login throttling: bounded memory, per account and per client address counted apart."""

from __future__ import annotations

import tracemalloc

from dubbing_webui.redisconn import RedisLink
from dubbing_webui.throttle import LoginThrottle


def _throttle(per_account: int = 5, per_client: int = 20) -> LoginThrottle:
    return LoginThrottle(RedisLink(None), per_account, 300, max_failures_per_client=per_client)


def test_junk_user_names_from_many_clients_keep_memory_flat() -> None:
    """2,000 failures with 10 KB junk names, each from its own address, keep well under 1 MiB."""
    throttle = _throttle()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(2000):
            name = f"{i}-" + "x" * 10_000
            client = f"10.0.{i // 256}.{i % 256}"
            assert not throttle.blocked(name, client)
            throttle.failure(name, client)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 1024 * 1024, f"throttle grew by {grown} bytes"


def test_tracked_keys_are_capped() -> None:
    throttle = LoginThrottle(RedisLink(None), 5, 300, max_failures_per_client=20, max_tracked=100)
    for i in range(1000):
        throttle.failure(f"user{i}", f"10.1.{i // 256}.{i % 256}")
    assert throttle.tracked() <= 100


def test_password_spraying_from_one_client_is_throttled() -> None:
    """One address trying one password on many accounts is stopped by the per-client limit."""
    throttle = _throttle(per_account=5, per_client=20)
    for i in range(20):
        assert not throttle.blocked(f"user{i}", "10.2.0.1")
        throttle.failure(f"user{i}", "10.2.0.1")
    assert throttle.blocked("user99", "10.2.0.1")
    assert not throttle.blocked("user99", "10.2.0.2")  # other clients are not affected


def test_one_account_from_many_clients_is_throttled() -> None:
    """Guessing one account's password from many addresses is stopped by the per-account limit."""
    throttle = _throttle(per_account=5, per_client=20)
    for i in range(5):
        throttle.failure("alice", f"10.3.0.{i}")
    assert throttle.blocked("alice", "10.3.0.200")
    assert not throttle.blocked("bob", "10.3.0.200")


def test_success_clears_the_account_but_not_the_client() -> None:
    throttle = _throttle(per_account=5, per_client=6)
    for i in range(4):
        throttle.failure(f"user{i}", "10.4.0.1")
    throttle.failure("alice", "10.4.0.1")
    throttle.success("alice", "10.4.0.1")
    throttle.failure("bob", "10.4.0.1")
    assert throttle.blocked("carol", "10.4.0.1")  # 6 failures from the address, a success does not forgive them
