"""The store behaves the same on SQLite and PostgreSQL (uploads and parts, shared caps, the upload
writer lock), and on PostgreSQL what replicas share holds across processes: replicas starting
together make the schema once, a writer lock is one holder's among all, and a replica killed while
holding it lets go at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace

import pytest

from dubbing_webui.db import DatabaseUnavailable, PostgresDatabase
from dubbing_webui.limits import RateLimit, StreamSlots, TooMany
from dubbing_webui.store import PartRecord, Store, UploadRecord

BIG = 6 * 1024**3  # past 32 bits: PostgreSQL must keep it as a BIGINT


def _upload(upload_id: str = "u1", owner: str = "alice") -> UploadRecord:
    now = time.time()
    return UploadRecord(
        id=upload_id, owner=owner, name="film.mkv", size=BIG, type="video/x-matroska", bucket="b",
        key=f"uploads/{owner}/{upload_id}/film.mkv", s3_upload_id="s3", chunk_size=8 * 1024 * 1024,
        state="open", created=now, expires=now + 3600.25, sha256=None, probe=None,
        metadata={"protocol": "chunks", "expectedSha256": None},
    )  # fmt: skip


def test_uploads_and_parts_round_trip(store: Store) -> None:
    rec = _upload()
    store.add_upload(rec)
    assert store.upload("u1") == rec  # sizes past 32 bits and sub-second times kept exactly
    store.put_part("u1", PartRecord(2, 5, "b" * 64, "e2"))
    store.put_part("u1", PartRecord(1, 5, "a" * 64, "e1"))
    store.put_part("u1", PartRecord(2, 5, "c" * 64, "e2b"))  # a part sent again replaces the first
    assert store.parts("u1") == [PartRecord(1, 5, "a" * 64, "e1"), PartRecord(2, 5, "c" * 64, "e2b")]
    store.set_upload_state("u1", "complete", sha256="d" * 64, probe={"duration": 1.5})
    done = store.upload("u1")
    assert done == replace(rec, state="complete", sha256="d" * 64, probe={"duration": 1.5})
    store.set_upload_state("u1", "complete")  # no new hash or probe: the old ones stay
    assert store.upload("u1") == done
    store.add_upload(_upload("u2", "bob"))
    assert [r.id for r in store.uploads("alice")] == ["u1"] and len(store.uploads(None)) == 2
    assert [r.id for r in store.uploads(None, "open")] == ["u2"]
    assert [r.id for r in store.expired_uploads(time.time() + 7200)] == ["u2"]
    store.delete_upload("u1")
    assert store.upload("u1") is None and store.parts("u1") == []  # the parts go with it


def test_settings_and_tokens(store: Store) -> None:
    store.add_user("alice", "h", "user")
    assert store.user_settings("alice") == {}
    store.set_user_settings("alice", {"ntfy": {"topic": "a"}})
    store.set_user_settings("alice", {"ntfy": {"topic": "b%?"}})  # placeholders' characters in the data
    assert store.user_settings("alice") == {"ntfy": {"topic": "b%?"}}
    store.add_token("t" * 64, "alice", "ci", time.time() + 60)
    assert [t["id"] for t in store.tokens("alice")] == ["t" * 12]


def test_stream_slots_are_capped_and_given_back(store: Store) -> None:
    slots = StreamSlots(store, per_user=2)
    a, b = slots.acquire("alice"), slots.acquire("alice")
    with pytest.raises(TooMany, match="2 of at most 2"):
        slots.acquire("alice")
    bob = slots.acquire("bob")  # others are unaffected
    a.release()
    a.release()  # twice is harmless
    c = slots.acquire("alice")
    assert slots.held("alice") == 2 and slots.held("bob") == 1
    for slot in (b, c, bob):
        slot.release()
    assert slots.held("alice") == 0


def test_a_dead_replicas_slots_run_out_and_live_ones_are_renewed(store: Store) -> None:
    dead = StreamSlots(store, per_user=1, lease_s=0.5)
    dead.acquire("alice")  # its replica dies: nobody renews it
    live = StreamSlots(store, per_user=1, lease_s=0.5)
    with pytest.raises(TooMany):
        live.acquire("alice")
    time.sleep(0.6)
    held = live.acquire("alice")
    for _ in range(3):
        time.sleep(0.25)
        live.renew()
    with pytest.raises(TooMany):
        dead.acquire("alice")  # renewed: still held after 0.75 s on a 0.5 s lease
    held.release()


def test_rate_limit_counts_a_sliding_window(store: Store) -> None:
    limit = RateLimit(store, "test notifications", 2, 0.5)
    limit.hit("alice")
    limit.hit("alice")
    with pytest.raises(TooMany) as refused:
        limit.hit("alice")
    assert refused.value.retry_after == 1
    limit.hit("bob")
    time.sleep(0.55)
    limit.hit("alice")  # the window moved on


def test_one_writer_per_upload(store: Store) -> None:
    with store.upload_writer("u1") as first:
        with store.upload_writer("u1") as second, store.upload_writer("u2") as other:
            assert first and not second and other
    with store.upload_writer("u1") as again:
        assert again  # let go when the block ended


# -------------------------------------------------------------- PostgreSQL only
def test_replicas_starting_together_make_the_schema_once(postgres_url: str) -> None:
    stores: list[Store] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            stores.append(Store(PostgresDatabase(postgres_url)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(stores) == 4
    stores[0].add_user("alice", "h", "user")
    assert all(s.user("alice") is not None for s in stores)
    for s in stores:
        s.close()


def test_a_writer_lock_is_one_replicas_at_a_time_and_let_go_after(postgres_url: str) -> None:
    one, two = Store(PostgresDatabase(postgres_url)), Store(PostgresDatabase(postgres_url))
    try:
        for _ in range(3):  # the connections are kept for the next lock: each must have let go
            with one.upload_writer("u1") as mine:
                assert mine
                with two.upload_writer("u1") as theirs:
                    assert not theirs
            with two.upload_writer("u1") as theirs:
                assert theirs
    finally:
        one.close()
        two.close()


def test_a_killed_writer_lets_go_of_the_upload_at_once(postgres_url: str) -> None:
    store = Store(PostgresDatabase(postgres_url))
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from dubbing_webui.db import PostgresDatabase
            from dubbing_webui.store import Store
            with Store(PostgresDatabase({postgres_url!r})).upload_writer("u1") as mine:
                print(mine, flush=True)
                time.sleep(120)
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        with store.upload_writer("u1") as mine:
            assert not mine  # another process writes to it
        holder.kill()
        holder.wait(10)
        deadline = time.monotonic() + 5
        while True:
            with store.upload_writer("u1") as mine:
                if mine:
                    break
            assert time.monotonic() < deadline, "the dead writer's lock was not released"
            time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait(10)
        store.close()


def test_postgres_down_is_a_clear_error_and_back_up_is_used_again() -> None:
    from devcluster.stack.postgres import postgres

    with postgres() as server:
        store = Store(PostgresDatabase(server.url()))
        store.add_user("alice", "h", "user")
        assert store.db.healthy()
        server.stop()
        with pytest.raises(DatabaseUnavailable, match="not answering"):
            store.user("alice")
        assert not store.db.healthy()
        server.start()
        assert store.user("alice") is not None  # the broken connections were dropped, new ones made
        assert store.db.healthy()
        store.close()
