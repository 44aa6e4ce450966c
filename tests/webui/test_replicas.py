"""Three web UI replicas behind one address (a round-robin TCP proxy, as a Service balances), sharing
PostgreSQL, Redis, MinIO and the real API server: a person logs in through one, sends an upload's
parts through all three, watches the dashboard's event stream on another, and one replica is killed
while a part streams into it. The upload resumes through the others and completes; the object in
MinIO has the file's hash; a job made through one replica shows on the stream another holds; the
per-user stream cap and the login throttle count across replicas."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.stack.media import make_wav
from devcluster.stack.ntfy import NtfyServer
from devcluster.stack.postgres import PostgresServer
from devcluster.stack.redis import RedisServer
from devcluster.stack.s3 import S3
from devcluster.stack.webui import ADMIN, WebUI, browser_login, launch_webui, stop_webui
from tests.fixtures.roundrobin import RoundRobin, round_robin

pytestmark = [pytest.mark.cluster, pytest.mark.minio]

MiB = 1024 * 1024
CHUNK = 5 * MiB
SIZE = 6 * CHUNK - 1000  # six parts, the last one short
TUS_SIZE = 2 * CHUNK + 1000


@pytest.fixture
def replicas(
    tmp_path: Path,
    kube: Any,
    jobs_namespace: str,
    webui_s3: S3,
    webui_redis: RedisServer,
    ntfy: NtfyServer,
    postgres_server: PostgresServer,
) -> Iterator[list[WebUI]]:
    """Three replicas started at once on one new PostgreSQL database (they make its schema together)."""
    env = {
        "DUBBING_DATABASE_URL": postgres_server.database(),
        "DUBBING_MAX_STREAMS_PER_USER": "2",
        "DUBBING_LOGIN_MAX_FAILURES": "3",
    }
    bucket = f"replicas-{secrets.token_hex(4)}"
    with ThreadPoolExecutor(3) as pool:
        started = [
            pool.submit(
                launch_webui, tmp_path / f"r{i}", kube, jobs_namespace, webui_s3, webui_redis, ntfy, bucket, env
            )
            for i in range(3)
        ]
    uis = [f.result() for f in started if f.exception() is None]
    try:
        assert len(uis) == 3, [str(f.exception()) for f in started if f.exception() is not None]
        yield uis
    finally:
        for ui in uis:
            stop_webui(ui)


def _served_by(lb: RoundRobin, count: int) -> int:
    """The backend of connection number ``count`` (1-based) once the proxy has placed it."""
    deadline = time.monotonic() + 5
    while len(lb.served) < count:
        assert time.monotonic() < deadline, "the proxy did not place the connection"
        time.sleep(0.01)
    return lb.served[count - 1]


def _advisory_locks(ui: WebUI) -> int:
    """Advisory locks held in the replicas' database right now (the upload writer locks)."""
    import psycopg

    with psycopg.connect(ui.env["DUBBING_DATABASE_URL"]) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchone()
    return int(row[0]) if row else 0


def _tus_patch(c: httpx.Client, where: str, offset: int, data: bytes) -> httpx.Response:
    return c.patch(
        where, content=data, headers={"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}
    )


def _tus_offset(c: httpx.Client, where: str) -> int:
    return int(c.head(where).headers["Upload-Offset"])


def _put(c: httpx.Client, upload_id: str, index: int, data: bytes) -> tuple[httpx.Response, int]:
    """PUT one chunk, retrying while another request still holds the upload (409); returns the 409s."""
    conflicts = 0
    while True:
        r = c.put(
            f"/api/uploads/{upload_id}/chunks/{index}",
            content=data,
            headers={"X-Chunk-SHA256": hashlib.sha256(data).hexdigest(), "Content-Type": "application/octet-stream"},
        )
        if r.status_code != 409 or conflicts >= 40:
            return r, conflicts
        conflicts += 1
        time.sleep(0.25)


class Dashboard(threading.Thread):
    """The dashboard's event stream, read in the background."""

    def __init__(self, base: str, cookies: httpx.Cookies) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=base, cookies=cookies, timeout=httpx.Timeout(60, read=120))
        self.events: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            with self.client.stream("GET", "/api/events") as resp:
                assert resp.status_code == 200, resp.status_code
                buf = ""
                for text in resp.iter_text():
                    buf += text
                    while "\n\n" in buf:
                        block, buf = buf.split("\n\n", 1)
                        fields = dict(
                            ln.split(":", 1) for ln in block.split("\n") if ":" in ln and not ln.startswith(":")
                        )
                        if "data" in fields:
                            self.events.append({"event": fields.get("event", "").strip(), **json.loads(fields["data"])})
                    if self.stop.is_set():
                        return
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            if not self.stop.is_set():
                self.error = exc

    def wait_for(self, what: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.error is None, f"the event stream broke: {self.error!r}"
            for ev in list(self.events):
                if what(ev):
                    return ev
            time.sleep(0.05)
        raise AssertionError(f"no such event within {timeout} s; got {[e.get('event') for e in self.events]}")


def test_an_upload_survives_a_replica_killed_mid_part(
    replicas: list[WebUI], media_dir: Path, minio_server: Any, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    path = tmp_path / "talk.wav"
    sha = make_wav(path, SIZE)
    data = path.read_bytes()
    chunks = [data[i : i + CHUNK] for i in range(0, SIZE, CHUNK)]
    ports = [int(ui.base.rsplit(":", 1)[1]) for ui in replicas]
    with round_robin(ports) as lb:
        # Log in through one replica (one kept-alive connection).
        session, csrf = browser_login(lb.base, *ADMIN)
        login_at = _served_by(lb, 1)
        assert set(lb.served) == {login_at}
        # The dashboard's stream on the next one.
        board = Dashboard(lb.base, session.cookies)
        board.start()
        board_at = _served_by(lb, 2)
        board.wait_for(lambda e: e["event"] == "snapshot")
        assert board_at != login_at
        # Every other request on a connection of its own: each goes to the next live replica.
        c = httpx.Client(
            base_url=lb.base, cookies=session.cookies, headers={"X-CSRF-Token": csrf, "Connection": "close"}, timeout=60
        )
        r = c.post("/api/uploads", json={"name": "talk.wav", "size": SIZE, "type": "audio/wav"})
        assert r.status_code == 201, r.text
        upload_id = r.json()["id"]
        parts_at: dict[int, int] = {}
        for index in range(3):
            resp, _ = _put(c, upload_id, index, chunks[index])
            assert resp.status_code == 200, resp.text
            parts_at[index] = lb.served[-1]
        assert set(parts_at.values()) == {0, 1, 2}, parts_at  # a part through each replica

        # Part 3 streams into the next replica, which is killed halfway through it.
        halfway, killed = threading.Event(), threading.Event()
        outcome: dict[str, Any] = {}

        def body() -> Iterator[bytes]:
            yield chunks[3][: CHUNK // 2]
            halfway.set()
            killed.wait(30)
            yield chunks[3][CHUNK // 2 :]

        def send_part_3() -> None:
            try:
                outcome["response"] = c.put(
                    f"/api/uploads/{upload_id}/chunks/3",
                    content=body(),
                    headers={"X-Chunk-SHA256": hashlib.sha256(chunks[3]).hexdigest()},
                )
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        sender = threading.Thread(target=send_part_3)
        sender.start()
        assert halfway.wait(30)
        victim = _served_by(lb, len(lb.served))
        assert victim != board_at
        # Parts go up in parallel (the upload page sends four at once): part 4 lands through another
        # replica while part 3 is still streaming into the victim.
        other_part, _ = _put(c, upload_id, 4, chunks[4])
        assert other_part.status_code == 200, other_part.text
        parts_at[4] = lb.served[-1]
        assert parts_at[4] != victim
        replicas[victim].proc.kill()
        replicas[victim].proc.wait(10)
        killed_at = time.monotonic()
        killed.set()
        sender.join(30)
        assert _advisory_locks(replicas[0]) == 0  # the dead replica held nothing another must wait for
        assert "error" in outcome or outcome["response"].status_code >= 500, outcome  # the part did not land

        # Resume through the others: ask what is missing, send it, complete.
        status = c.get(f"/api/uploads/{upload_id}").json()
        assert status["receivedChunks"] == [0, 1, 2, 4] and status["missingChunks"] == [3, 5]
        conflicts = 0
        for index in status["missingChunks"]:
            resp, waited = _put(c, upload_id, index, chunks[index])
            assert resp.status_code == 200, resp.text
            conflicts += waited
            parts_at[index] = lb.served[-1]
            assert parts_at[index] != victim
        done = c.post(f"/api/uploads/{upload_id}/complete")
        while done.status_code == 202:
            time.sleep(0.5)
            done = c.post(f"/api/uploads/{upload_id}/complete")
        assert done.status_code == 200, done.text
        resumed_s = time.monotonic() - killed_at
        final = done.json()
        assert final["state"] == "complete" and final["sha256"] == sha and final["size"] == SIZE

        obj = minio_server.client().get_object(final["bucket"], final["key"])
        try:
            stored = obj.read()
        finally:
            obj.close()
            obj.release_conn()
        assert len(stored) == SIZE and hashlib.sha256(stored).hexdigest() == sha  # nothing lost

        # A job made through one survivor shows on the dashboard stream the other holds.
        other = next(i for i in range(3) if i not in (victim, board_at))
        with httpx.Client(
            base_url=replicas[other].base, cookies=session.cookies, headers={"X-CSRF-Token": csrf}, timeout=60
        ) as direct:
            made = direct.post("/api/jobs", json={"uploadId": upload_id, "targetLanguages": ["es"]})
        assert made.status_code == 201, made.text
        name = made.json()["name"]
        board.wait_for(lambda e: e["event"] == "job" and e.get("name") == name)

        # The caps count on every replica together: two streams per user (the dashboard holds one)...
        with c.stream("GET", "/api/events") as second:
            assert second.status_code == 200
            second_at = lb.served[-1]
            with c.stream("GET", "/api/events") as third:
                assert third.status_code == 429 and lb.served[-1] != second_at
        # ... and three failed logins per account, whichever replicas they reach.
        tries = []
        for _ in range(4):
            with httpx.Client(base_url=lb.base, timeout=30) as anon:  # a connection of its own: the next replica
                token = re.search(r'name="csrf_token" value="([^"]+)"', anon.get("/login").text)
                assert token is not None
                login = {"username": "mallory", "password": "not-the-password", "csrf_token": token.group(1)}
                tries.append((anon.post("/login", data=login).status_code, lb.served[-1]))
        assert [code for code, _ in tries] == [401, 401, 401, 429] and len({at for _, at in tries}) == 2, tries
        board.stop.set()

        # tus across replicas: bytes of an unfinished part wait on the replica that took them, and
        # one that holds bytes of a part since stored elsewhere never counts them as the next part's.
        first, second = (replicas[i] for i in range(3) if i != victim)
        tus_path = tmp_path / "tus.wav"
        tus_sha = make_wav(tus_path, TUS_SIZE)
        tus_data = tus_path.read_bytes()
        auth = {"X-CSRF-Token": csrf, "Tus-Resumable": "1.0.0"}
        with (
            httpx.Client(base_url=first.base, cookies=session.cookies, headers=auth, timeout=60) as on_a,
            httpx.Client(base_url=second.base, cookies=session.cookies, headers=auth, timeout=60) as on_b,
        ):
            meta = (
                "filename "
                + base64.b64encode(b"tus.wav").decode()
                + ",filetype "
                + base64.b64encode(b"audio/wav").decode()
            )
            made = on_a.post("/api/tus/", headers={"Upload-Length": str(TUS_SIZE), "Upload-Metadata": meta})
            assert made.status_code == 201, made.text
            where = httpx.URL(made.headers["Location"]).path
            assert _tus_patch(on_a, where, 0, tus_data[:MiB]).status_code == 204
            assert _tus_offset(on_a, where) == MiB and _tus_offset(on_b, where) == 0
            assert _tus_patch(on_b, where, 0, tus_data[: CHUNK + MiB]).status_code == 204  # part 1 stored by b
            assert _tus_offset(on_a, where) == CHUNK  # a's bytes of part 1 are not part 2's
            assert _tus_patch(on_a, where, CHUNK, tus_data[CHUNK:]).status_code == 204  # the last PATCH completes
            tus_done = on_b.get(f"/api/uploads/{where.rsplit('/', 1)[1]}").json()
        assert tus_done["state"] == "complete" and tus_done["sha256"] == tus_sha
        c.close()
        session.close()
        board.client.close()
        print(
            f"\nreplicas: login@{login_at} dashboard@{board_at} killed@{victim} parts@{parts_at}; "
            f"409s after the kill: {conflicts}; "
            f"kill to complete {resumed_s:.1f} s; "
            f"test body {time.monotonic() - t0:.1f} s"
        )
