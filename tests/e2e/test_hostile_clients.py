"""Gate: hostile clients cannot grow the web UI, fill its disk, starve other users or make it fetch
internal addresses.

Against the real app (its MinIO, Redis and cluster namespace), in bounded loops:

* **junk logins**: 2,000 anonymous logins with 30 KB junk user names, each from its own
  forwarded address (the worst case for the throttle's table), plus a few 1 MB names; the
  app's RSS after them stays within ``RSS_SLACK_MIB`` of before, and alice still signs in.
* **spool attack**: alice and bob open many tus uploads and send almost a part to each; the
  spool (its own folder, as the chart mounts it) never holds more than its limit, later requests
  get 507 with the reason, and logins still work (the SQLite folder holds no spool file).
* **stream flood**: 500 stream requests from alice: ``DUBBING_MAX_STREAMS_PER_USER`` are held,
  the rest answer 429 at once; bob's stream opens; the app's thread count stays flat.
* **internal fetches**: an uploaded HLS playlist naming a loopback listener is refused at
  completion, and a job whose ``spec.input.url`` names that listener fails InputURLRefused in
  the stage runtime; the listener sees no connection, and no message carries a URL.

The figures (RSS before/after, spool bytes, answers by status) are in the gate's JSON line.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from dubbing.artifacts import LocalStore
from dubbing.stages.context import StageContext
from dubbing.stages.errors import StageFailure
from dubbing.stages.jobfile import parse_job
from dubbing.stages.runner import run_stage
from tests.fixtures.listener import CountingListener

from . import common as c
from . import web as w

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.slow]

MiB = 1024 * 1024
CHUNK = 5 * MiB
JUNK_LOGINS = 2000
RSS_SLACK_MIB = 16
SPOOL_PER_USER = 16 * MiB
SPOOL_MAX = 24 * MiB
STREAMS = 500
STREAMS_PER_USER = 8
TUS = {"Tus-Resumable": "1.0.0"}


def test_hostile_clients(gate: c.Gate, kube: Any, dubbingjob_crd: str, webui_s3: w.S3, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    env = {
        "DUBBING_UPLOAD_CHUNK_BYTES": str(CHUNK),
        "DUBBING_SPOOL_DIR": str(spool),
        "DUBBING_SPOOL_PER_USER_BYTES": str(SPOOL_PER_USER),
        "DUBBING_SPOOL_MAX_BYTES": str(SPOOL_MAX),
        "DUBBING_MAX_STREAMS_PER_USER": str(STREAMS_PER_USER),
        # the spool's own bounds are under test: the per-user count of unfinished uploads (another
        # bound, 429 at 5 by default) would refuse the attack before it reaches the spool
        "DUBBING_QUOTA_OPEN_UPLOADS": "0",
    }
    with w.web_stack(gate, kube, webui_s3, "gate-hostile", tmp_path, env) as st:
        _junk_logins(gate, st.ui)
        _spool_attack(gate, st.ui, spool)
        _stream_flood(gate, st.ui)
        _internal_fetches(gate, st.ui, tmp_path)


def _login_token(client: httpx.Client) -> str:
    page = client.get("/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def _junk_logins(gate: c.Gate, ui: w.WebUI) -> None:
    codes: Counter[int] = Counter()
    with httpx.Client(base_url=ui.base, timeout=60) as anon:
        token = _login_token(anon)

        def attempt(i: int, name_bytes: int = 30_000) -> None:
            form = {"username": f"{i:05d}" + "x" * name_bytes, "password": "x", "csrf_token": token}
            headers = {"X-Forwarded-For": f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}"}
            codes[anon.post("/login", data=form, headers=headers).status_code] += 1

        for i in range(200):  # warm-up: first-use allocations belong to the baseline
            attempt(100_000 + i)
        before = w.proc_rss_kib(ui.proc.pid)
        for i in range(JUNK_LOGINS):
            attempt(i)
        for i in range(5):
            attempt(200_000 + i, name_bytes=MiB)
        after = w.proc_rss_kib(ui.proc.pid)
    alice, _csrf = w.browser_login(ui.base, "alice", w.PASSWORD)
    alice.close()
    grown = (after - before) / 1024
    gate.summary["junk_logins"] = {
        "logins": JUNK_LOGINS,
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "rss_growth_mib": round(grown, 1),
        "answers": dict(codes),
    }
    c.check(grown < RSS_SLACK_MIB, f"RSS grew {grown:.1f} MiB over {JUNK_LOGINS} junk logins")
    c.check(codes[413] >= 5, f"1 MB names must be refused with 413: {dict(codes)}")


def _tus_create(client: httpx.Client, size: int) -> str:
    meta = f"filename {base64.b64encode(b'big.wav').decode()},filetype {base64.b64encode(b'audio/wav').decode()}"
    resp = client.post("/api/tus/", headers={**TUS, "Upload-Length": str(size), "Upload-Metadata": meta})
    c.check(resp.status_code == 201, f"tus create: {resp.status_code} {resp.text}")
    return resp.headers["Location"]


def _spool_bytes(spool: Path) -> int:
    return sum(p.stat().st_size for p in spool.rglob("*") if p.is_file())


def _spool_attack(gate: c.Gate, ui: w.WebUI, spool: Path) -> None:
    piece = b"\0" * (CHUNK - 4096)  # almost a part: it stays in the spool
    codes: Counter[int] = Counter()
    peak = 0
    with ui.client("alice") as alice, ui.client("bob") as bob:
        for client in (alice, bob, alice, bob) * 4:  # 16 uploads, bounded
            where = _tus_create(client, 40 * CHUNK)
            resp = client.patch(
                where,
                content=piece,
                headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
            )
            codes[resp.status_code] += 1
            if resp.status_code == 507:
                c.check("spool" in resp.text or "disk" in resp.text, f"507 without a reason: {resp.text}")
            peak = max(peak, _spool_bytes(spool))
    data_dir = Path(ui.env["DUBBING_DATA_DIR"])
    db_dir_spool = [p.name for p in data_dir.rglob("*.part")]
    browser, _csrf = w.browser_login(ui.base, "admin", "admin-password-1")
    browser.close()
    gate.summary["spool_attack"] = {
        "patches": dict(codes),
        "spool_peak_bytes": peak,
        "spool_limit_bytes": SPOOL_MAX,
        "data_dir_bytes": sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file()),
    }
    c.check(peak <= SPOOL_MAX, f"spool held {peak} bytes, over its {SPOOL_MAX}")
    c.check(codes[507] > 0 and codes[204] > 0, f"answers: {dict(codes)}")
    c.check(not db_dir_spool, f"spool files next to the database: {db_dir_spool}")


def _threads(pid: int) -> int:
    return int(re.search(r"^Threads:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))  # type: ignore[union-attr]


def _stream_flood(gate: c.Gate, ui: w.WebUI) -> None:
    threads_before = _threads(ui.proc.pid)
    codes: Counter[int] = Counter()
    with ExitStack() as stack:
        alice = stack.enter_context(ui.client("alice"))
        for _ in range(STREAMS_PER_USER):
            held = stack.enter_context(alice.stream("GET", "/api/events"))
            codes[held.status_code] += 1

        def one(i: int) -> int:
            path = "/api/events" if i % 2 else f"/api/jobs/job-{i}/logs"
            with httpx.Client(base_url=ui.base, headers=alice.headers, timeout=30) as cl, cl.stream("GET", path) as r:
                return r.status_code

        with ThreadPoolExecutor(16) as pool:
            codes.update(pool.map(one, range(STREAMS - STREAMS_PER_USER)))
        threads_during = _threads(ui.proc.pid)
        bob_ok = False
        with ui.client("bob") as bob, bob.stream("GET", "/api/events") as theirs:
            bob_ok = theirs.status_code == 200
    gate.summary["stream_flood"] = {
        "requests": STREAMS,
        "answers": dict(codes),
        "threads_before": threads_before,
        "threads_during": threads_during,
        "other_user_stream": bob_ok,
    }
    c.check(codes[200] == STREAMS_PER_USER and codes[429] == STREAMS - STREAMS_PER_USER, f"answers: {dict(codes)}")
    c.check(bob_ok, "bob's stream was refused")
    c.check(threads_during <= threads_before + 8, f"threads {threads_before} -> {threads_during}")


def _internal_fetches(gate: c.Gate, ui: w.WebUI, work: Path) -> None:
    listener = CountingListener()
    try:
        playlist = (
            "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
            f"http://127.0.0.1:{listener.port}/latest/meta-data/seg0.ts\n#EXT-X-ENDLIST\n"
        ).encode()
        with ui.client("alice") as alice:
            created = w.uploadclient.create(alice, "talk.mp4", len(playlist), "video/mp4")
            c.check(created.status_code == 201, f"create: {created.text}")
            upload = created.json()
            w.uploadclient.put_chunk(alice, upload["id"], 0, playlist)
            done = alice.post(f"/api/uploads/{upload['id']}/complete")
        detail = done.json().get("detail", "")
        job = parse_job(
            {
                "metadata": {"name": "hostile", "namespace": "ns"},
                "spec": {"input": {"url": f"http://127.0.0.1:{listener.port}/talk.mp4"}, "targetLanguages": ["es"]},
            }
        )
        ctx = StageContext(job, LocalStore(work / "store"), sink=lambda *a: None)
        try:
            run_stage("extract", ctx)
            reason = "ran"
        except StageFailure as failure:
            reason = failure.reason
        finally:
            ctx.close()
    finally:
        listener.close()
    gate.summary["internal_fetches"] = {
        "hls_upload": {"status": done.status_code, "detail": detail},
        "input_url": reason,
        "listener_connections": listener.connections,
    }
    c.check(done.status_code == 400 and "refused" in detail, f"HLS upload: {done.status_code} {detail}")
    c.check("http" not in detail and "X-Amz" not in detail, f"a URL in the refusal: {detail}")
    c.check(reason == "InputURLRefused", f"input URL: {reason}")
    c.check(listener.connections == 0, f"the internal listener saw {listener.connections} connections")
