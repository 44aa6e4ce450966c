"""Gate: an upload whose connection is killed at random chunks resumes after a "reload" and arrives intact.

The client talks to the real web UI through a small TCP proxy on loopback that cuts
connections after a random number of bytes (seeded: 7, or ``DUBBING_GATE_SEED``); on some chunks the client itself
also aborts the request mid-body.  After every failure the client "reloads": it drops
its connection and its state and starts again knowing only the upload id (as the page
does from localStorage), asks the server which chunks it holds, and sends only the
missing ones.  Passes when every cut happened mid-transfer and was recovered, no chunk
the server acknowledged was lost or resent, the completed object in MinIO has the
file's SHA-256, no multipart upload or spool file is left behind, and the server's RSS
stays flat (its peak in the second half of the upload is within a few MiB of the first
half, and far below the file's size).
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from . import common as c
from . import web as w

pytestmark = [pytest.mark.cluster, pytest.mark.minio, pytest.mark.slow]

FILE_BYTES = 100 * 1000 * 1000 + 44  # a WAV of ~100 MB: 20 chunks of 5 MiB
CHUNK = 5 * 1024 * 1024
FLAT_SLACK_MIB = 12  # second-half peak may exceed the first half's by this much
RSS_GROWTH_LIMIT_MIB = 48  # peak over the warmed-up baseline, for a ~100 MB file


class CuttingProxy:
    """A loopback TCP proxy; ``arm(n)``: the connection that next carries client bytes dies after n more of them."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cuts: list[int] = []  # client bytes forwarded on each cut connection
        self._armed: int | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, after_bytes: int) -> None:
        with self._lock:
            self._armed = after_bytes

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, cuttable: bool) -> None:
        sent, budget = 0, None
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if cuttable and budget is None:
                    with self._lock:
                        if self._armed is not None:
                            budget, self._armed = sent + self._armed, None
                if budget is not None and sent + len(data) >= budget:
                    dst.sendall(data[: budget - sent])
                    sent = budget
                    self.cuts.append(sent)  # bytes of the whole connection
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


class ClientAbort(Exception):
    """The client gives up on a request mid-body (as a closed tab or a lost radio would)."""


def _aborting_body(data: bytes, at: int) -> Iterator[bytes]:
    yield data[:at]
    raise ClientAbort(f"aborted after {at} bytes")


def test_upload_resume(gate: c.Gate, cluster: c.KubeCluster, webui_s3: w.S3) -> None:
    seed = int(os.environ.get("DUBBING_GATE_SEED") or 7)
    work = c.plan_dir()
    media = work / "resume.wav"
    want_sha = w.make_wav(media, FILE_BYTES)
    with w.web_stack(gate, cluster, webui_s3, "gate-upload", work, {"DUBBING_UPLOAD_CHUNK_BYTES": str(CHUNK)}) as st:
        _run(gate, st.ui, media, want_sha, random.Random(seed), work / "webui")
    media.unlink(missing_ok=True)


def _warm_up(ui: w.WebUI, work: Path) -> None:
    """One small two-chunk upload first, so the baseline includes the first-use allocations."""
    warm = work / "warm.wav"
    w.make_wav(warm, CHUNK + 1000 * 1000 + 44)
    with ui.client("alice") as cl:
        w.uploadclient.upload(cl, warm)
    warm.unlink()


def _run(gate: c.Gate, ui: w.WebUI, media: Path, want_sha: str, rng: random.Random, data_dir: Path) -> None:
    _warm_up(ui, media.parent)
    time.sleep(0.5)
    baseline = w.proc_rss_kib(ui.proc.pid)
    proxy = CuttingProxy(int(ui.base.rsplit(":", 1)[1]))
    headers = {"Authorization": f"Bearer {ui.tokens['alice']}"}
    with ui.client("alice") as cl:
        created = w.uploadclient.create(cl, media.name, media.stat().st_size, sha256=want_sha)
    c.check(created.status_code == 201, f"create: {created.status_code} {created.text}")
    upload_id = created.json()["id"]  # all the "page" keeps across reloads
    acked: set[int] = set()
    resent: list[int] = []
    reloads, client_aborts, bytes_sent = 0, 0, 0
    t_start = time.monotonic()
    with w.ProcSampler(ui.proc.pid) as sampler:
        for _session in range(60):
            # A fresh "page": new connection, knows only the id.
            with httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}", headers=headers, timeout=60) as page:
                try:
                    status = page.get(f"/api/uploads/{upload_id}").json()
                    missing = status["missingChunks"]
                    c.check(
                        acked <= set(status["receivedChunks"]),
                        f"acknowledged chunks lost: {sorted(acked - set(status['receivedChunks']))}",
                    )
                    if not missing:
                        break
                    for i in missing:
                        data = w.uploadclient.read_chunk(media, i, status["chunkSize"])
                        sha = hashlib.sha256(data).hexdigest()
                        roll = rng.random()
                        content: Any = data
                        if roll < 0.25:  # the network dies somewhere in this request
                            proxy.arm(rng.randint(1, len(data)))
                        elif roll < 0.35:  # the client abandons the request mid-body
                            content = _aborting_body(data, rng.randint(1, len(data) - 1))
                        bytes_sent += len(data)
                        if i in acked:
                            resent.append(i)
                        r = page.put(
                            f"/api/uploads/{upload_id}/chunks/{i}",
                            content=content,
                            headers={"X-Chunk-SHA256": sha, "Content-Type": "application/octet-stream"},
                        )
                        c.check(r.status_code == 200, f"chunk {i}: {r.status_code} {r.text[:200]}")
                        acked.add(i)
                except (httpx.TransportError, ClientAbort) as err:
                    reloads += 1
                    client_aborts += isinstance(err, ClientAbort)
                    continue
        t_chunks = time.monotonic()
        with ui.client("alice") as cl:
            done = cl.post(f"/api/uploads/{upload_id}/complete")
        t_done = time.monotonic()
    proxy.close()
    c.check(done.status_code == 200, f"complete: {done.status_code} {done.text[:300]}")
    st = done.json()

    s3 = ui.s3.client()
    obj = s3.get_object(st["bucket"], st["key"])
    digest = hashlib.sha256()
    try:
        for block in obj.stream(1 << 20):
            digest.update(block)
    finally:
        obj.close()
        obj.release_conn()
    stray = list(s3._list_multipart_uploads(ui.bucket).uploads)  # the SDK has no public call
    spool = [p.name for p in (data_dir / "data" / "tmp").glob("*")] if (data_dir / "data" / "tmp").exists() else []

    mid = t_start + (t_chunks - t_start) / 2
    first, second = sampler.peak_kib(t_start, mid), sampler.peak_kib(mid, t_done)
    peak = sampler.peak_kib()
    gate.summary.update(
        {
            "file_mb": round(FILE_BYTES / 1e6, 1),
            "chunks": st["chunkCount"],
            "reloads": reloads,
            "proxy_cuts": len(proxy.cuts),
            "client_aborts": client_aborts,
            "resent_acknowledged_chunks": resent,
            "bytes_sent_over_file": round(bytes_sent / FILE_BYTES, 2),
            "upload_s": round(t_chunks - t_start, 1),
            "complete_s": round(t_done - t_chunks, 1),
            "sha256_matches": digest.hexdigest() == want_sha,
            "rss_baseline_mib": round(baseline / 1024, 1),
            "rss_peak_first_half_mib": round(first / 1024, 1),
            "rss_peak_second_half_mib": round(second / 1024, 1),
            "rss_samples": len(sampler.samples),
            "stray_multipart_uploads": len(stray),
            "spool_files_left": spool,
        }
    )
    c.check(reloads >= 3, f"only {reloads} reloads: the gate did not exercise resumption (seed?)")
    c.check(len(proxy.cuts) >= 1 and client_aborts >= 1, "both kinds of cut must occur")
    c.check(not resent, f"chunks the server had acknowledged were sent again: {resent}")
    c.check(
        st["state"] == "complete" and st.get("sha256") == want_sha,
        f"server-side SHA-256 {st.get('sha256')} != {want_sha}",
    )
    c.check(digest.hexdigest() == want_sha, "the object in MinIO does not match the file's SHA-256")
    c.check(not stray, f"multipart uploads left in the bucket: {stray}")
    c.check(not spool, f"spool files left: {spool}")
    c.check(
        second <= first + FLAT_SLACK_MIB * 1024,
        f"RSS grew during the upload: first-half peak {first} KiB, second-half {second} KiB",
    )
    c.check(
        peak - baseline <= RSS_GROWTH_LIMIT_MIB * 1024,
        f"RSS peak {peak} KiB is {peak - baseline} KiB over the baseline {baseline} KiB",
    )
