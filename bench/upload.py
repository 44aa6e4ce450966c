"""Benchmark: uploads straight to MinIO, the upload page's direct path and the web UI's proxy path.

Same machine, same files, one run, for each size (default 256 MiB and 1 GiB): a WAV (random
samples, written under /var/tmp and removed afterwards) is uploaded

1. **direct MinIO multipart**: the minio SDK's ``fput_object`` (part size = the web UI's chunk
   size, ``PARALLEL`` parts at once) - the ceiling;
1b. **direct MinIO multipart with SHA-256 part checksums**: the workers of (2) with the URLs
   signed here instead of by the web UI - what MinIO's checksum check costs by itself;
2. **browser path**: what upload.js does with ``transfer: direct``: create the upload (the web UI
   plans the parts), then ``PARALLEL`` workers each PUT a part to its presigned MinIO URL while they
   hash (SHA-256) and have the web UI sign (``POST /api/uploads/{id}/chunks/{i}/url``) the part
   they send next; then ``complete`` (MinIO assembles the parts with their checksums; the web UI hashes the
   object and probes it);
3. **proxy path**: the same workers PUT each part to the web UI (``/api/uploads/{id}/chunks/{i}``),
   which streams it on into MinIO's UploadPart.

Each path runs ``--repeat`` times (default 3), the paths taking turns in an order that rotates
each round, each run after ``sync`` (the runs before it written out), and the run with the
median parts time is reported (the machine is shared: single runs are noisy); the RSS figures
are those of the run whose RSS grew most. Reported per size and path: seconds and MB/s of the parts, of ``complete`` and end to end, the
ratio to direct MinIO, and the web UI's RSS (sampled every 50 ms from /proc) before the path and
at its peak during it - flat means the growth is small and does not grow with the file.

    python -m bench.upload [--mb 256 --mb 1024] [--out bench-results]

Results: ``<out>/upload.json``, ``<out>/upload.md`` and ``<out>/upload.svg``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import urllib3

from devcluster.stack.kube import connect, install_crd, namespace
from devcluster.stack.media import make_wav
from devcluster.stack.procstat import ProcSampler, proc_cpu_seconds, proc_rss_kib
from devcluster.stack.redis import redis
from devcluster.stack.s3 import minio
from devcluster.stack.webui import WebUI, webui
from devcluster.workloads import plan_dir
from dubbing_webui import s3sign

REPO = Path(__file__).resolve().parents[1]
CHUNK = 8 * 1024 * 1024
PARALLEL = 4  # upload.js's PARALLEL
MiB = 1024 * 1024
PATHS = ("direct_minio", "direct_minio_checksums", "browser_direct", "webui_proxy")
LABELS = {
    "direct_minio": "direct MinIO multipart (minio SDK)",
    "direct_minio_checksums": "direct MinIO multipart, SHA-256 part checksums (signed locally)",
    "browser_direct": "browser path (presigned parts to MinIO)",
    "webui_proxy": "proxy path (parts streamed through the web UI)",
}


def _file_bytes(mib: int) -> int:
    size = mib * MiB
    return size - (size - 44) % 4  # whole stereo 16-bit frames after the header


def _parallel(
    count: int,
    send: Callable[[int, urllib3.PoolManager, Any], None],
    prepare: Callable[[int, httpx.Client], Any] | None = None,
) -> None:
    """``send(i, pool, prepare(i))`` for every part, ``PARALLEL`` at a time, each worker with its own
    connections. With ``prepare`` (hash and sign), a worker prepares its next part while it sends one,
    as upload.js does.

    The parts' bytes go with urllib3, the HTTP library under the minio SDK of the baseline, so every
    path sends its bytes the same way (httpx sends checksummed parts to MinIO ~20 % slower here; a
    browser sends with its own network stack)."""
    lock = threading.Lock()
    queue = list(range(count))
    errors: list[BaseException] = []

    def take() -> int | None:
        with lock:
            return None if not queue or errors else queue.pop(0)

    def worker() -> None:
        with (
            urllib3.PoolManager(maxsize=1, retries=False, timeout=300) as pool,
            httpx.Client(timeout=300) as signer,
            ThreadPoolExecutor(max_workers=1) as ahead,
        ):
            try:
                index = take()
                nxt = ahead.submit(prepare, index, signer) if prepare and index is not None else None
                while index is not None:
                    prepared = nxt.result() if nxt else None
                    following = take()
                    nxt = ahead.submit(prepare, following, signer) if prepare and following is not None else None
                    send(index, pool, prepared)
                    index = following
            except BaseException as exc:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"a part failed: {errors[0]}") from errors[0]


def _checksummed_direct(ui: WebUI, media: Path, size: int) -> dict[str, Any]:
    """Path 1b: a checksummed multipart upload driven here with locally signed requests (no web UI)."""
    creds = s3sign.Credentials(ui.s3.access_key, ui.s3.secret_key, "us-east-1")
    key = "direct/bench-checksums.wav"

    def signed(method: str, query: dict[str, str], headers: dict[str, str] | None = None) -> str:
        return s3sign.presign(method, ui.s3.endpoint, ui.bucket, key, creds, datetime.now(UTC), 3600, query, headers)

    fd = os.open(media, os.O_RDONLY)
    try:
        t0 = time.monotonic()
        start = {"x-amz-checksum-algorithm": "SHA256", "content-type": "audio/wav"}
        upload_id = s3sign.upload_id_of(httpx.post(signed("POST", {"uploads": ""}, start), headers=start).content)

        def send(i: int, pool: urllib3.PoolManager, _: Any) -> None:
            data = os.pread(fd, min(CHUNK, size - i * CHUNK), i * CHUNK)
            headers = {
                "x-amz-checksum-sha256": s3sign.sha256_b64(hashlib.sha256(data).hexdigest()),
                "content-length": str(len(data)),
            }
            r = pool.request(
                "PUT",
                signed("PUT", {"partNumber": str(i + 1), "uploadId": upload_id}, headers),
                body=data,
                headers=headers,
            )
            if r.status != 200:
                raise RuntimeError(f"part {i}: {r.status} {r.data[:200]!r}")

        _parallel(-(-size // CHUNK), send)
        parts = s3sign.parse_list_parts(httpx.get(signed("GET", {"uploadId": upload_id}), timeout=60).content)[0]
        done = httpx.post(signed("POST", {"uploadId": upload_id}), content=s3sign.complete_xml(parts), timeout=300)
        elapsed = time.monotonic() - t0
        if done.status_code != 200 or b"<Error>" in done.content:
            raise RuntimeError(f"complete: {done.status_code} {done.text[:200]}")
    finally:
        os.close(fd)
    ui.s3.client().remove_object(ui.bucket, key)
    return {"parts_s": elapsed, "end_to_end_s": elapsed}


def _upload(ui: WebUI, media: Path, size: int, sha: str, via: str) -> dict[str, Any]:
    """One upload as the page does it (``via``: ``direct`` or ``proxy``); seconds of parts and of complete."""
    fd = os.open(media, os.O_RDONLY)
    try:
        with ui.client("alice") as cl:
            t0 = time.monotonic()
            st = cl.post("/api/uploads", json={"name": media.name, "size": size, "type": "audio/wav"}).json()
            upload_id, chunk = st["id"], st["chunkSize"]

            def read(i: int) -> bytes:
                return os.pread(fd, min(chunk, size - i * chunk), i * chunk)

            def sign(i: int, http: httpx.Client) -> dict[str, Any]:
                """What a worker of upload.js does for its next part while one is sent: hash, sign."""
                digest = hashlib.sha256(read(i)).hexdigest()
                req = http.post(
                    f"{ui.base}/api/uploads/{upload_id}/chunks/{i}/url", json={"sha256": digest}, headers=cl.headers
                )
                if req.status_code != 200:
                    raise RuntimeError(f"sign {i}: {req.status_code} {req.text[:200]}")
                signed: dict[str, Any] = req.json()
                return signed

            def send(i: int, pool: urllib3.PoolManager, signed: dict[str, Any] | None) -> None:
                data = read(i)  # the browser's XHR reads the slice again as it sends it
                if signed is not None:
                    r = pool.request(signed["method"], signed["url"], headers=signed["headers"], body=data)
                else:
                    r = pool.request(
                        "PUT",
                        f"{ui.base}/api/uploads/{upload_id}/chunks/{i}",
                        body=data,
                        headers={
                            **cl.headers,
                            "X-Chunk-SHA256": hashlib.sha256(data).hexdigest(),
                            "Content-Type": "application/octet-stream",
                        },
                    )
                if r.status != 200:
                    raise RuntimeError(f"part {i} ({via}): {r.status} {r.data[:200]!r}")

            _parallel(st["chunkCount"], send, sign if via == "direct" else None)
            parts_s = time.monotonic() - t0
            done = cl.post(f"/api/uploads/{upload_id}/complete")
            while done.status_code == 202:  # assembled, still hashed and probed: ask again
                time.sleep(0.1)
                done = cl.post(f"/api/uploads/{upload_id}/complete")
            total_s = time.monotonic() - t0
            if done.status_code != 200 or done.json().get("sha256") != sha:
                raise RuntimeError(f"complete ({via}): {done.status_code} {done.text[:300]}")
            if done.json().get("transfer") != "direct":
                raise RuntimeError("the web UI does not plan direct transfers")
            cl.delete(f"/api/uploads/{upload_id}")
    finally:
        os.close(fd)
    return {"parts_s": parts_s, "end_to_end_s": total_s}


def _rotated(names: tuple[str, ...], by: int) -> tuple[str, ...]:
    k = by % len(names)
    return names[k:] + names[:k]


def _measure(ui: WebUI, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``fn`` with the web UI's RSS sampled: baseline just before, peak during."""
    os.sync()  # the last run's parts are on disk before this one starts: no run pays another's writeback
    time.sleep(1.0)
    before = proc_rss_kib(ui.proc.pid)
    cpu = proc_cpu_seconds(ui.proc.pid)
    with ProcSampler(ui.proc.pid, every=0.05) as sampler:
        result = fn()
    peak = max(sampler.peak_kib(), before)
    return {
        **result,
        "webui_rss_before_mib": round(before / 1024, 1),
        "webui_rss_peak_mib": round(peak / 1024, 1),
        "webui_rss_growth_mib": round((peak - before) / 1024, 1),
        "webui_cpu_s": round(proc_cpu_seconds(ui.proc.pid) - cpu, 2),
        "rss_samples": len(sampler.samples),
    }


def _one_size(ui: WebUI, client: Any, work: Path, mib: int, repeat: int) -> dict[str, Any]:
    media = work / f"bench-{mib}.wav"
    size = _file_bytes(mib)
    t = time.monotonic()
    sha = make_wav(media, size)
    gen_s = time.monotonic() - t
    mbytes = size / 1e6
    out: dict[str, Any] = {"file_mib": mib, "file_mb": round(mbytes, 1), "generate_s": round(gen_s, 1)}
    try:

        def direct() -> dict[str, Any]:
            t0 = time.monotonic()
            client.fput_object(
                ui.bucket,
                "direct/bench.wav",
                str(media),
                part_size=CHUNK,
                num_parallel_uploads=PARALLEL,
                content_type="audio/wav",
            )
            s = time.monotonic() - t0
            client.remove_object(ui.bucket, "direct/bench.wav")
            return {"parts_s": s, "end_to_end_s": s}

        paths: dict[str, Callable[[], dict[str, Any]]] = {
            "direct_minio": direct,
            "direct_minio_checksums": lambda: _checksummed_direct(ui, media, size),
            "browser_direct": lambda: _upload(ui, media, size, sha, "direct"),
            "webui_proxy": lambda: _upload(ui, media, size, sha, "proxy"),
        }
        tries: dict[str, list[dict[str, Any]]] = {name: [] for name in PATHS}
        for round_ in range(repeat):  # the paths take turns, so a busy spell of the machine hits them all
            for name in _rotated(PATHS, round_):  # and none always goes first
                tries[name].append(_measure(ui, paths[name]))
    finally:
        media.unlink(missing_ok=True)
    runs = {}
    for name, results in tries.items():
        ordered = sorted(results, key=lambda r: r["parts_s"])
        chosen = dict(ordered[len(ordered) // 2])
        chosen["all_parts_s"] = [round(r["parts_s"], 2) for r in results]
        worst = max(results, key=lambda r: r["webui_rss_growth_mib"])  # RSS: the run that grew most
        for key in ("webui_rss_before_mib", "webui_rss_peak_mib", "webui_rss_growth_mib"):
            chosen[key] = worst[key]
        runs[name] = chosen
    base = runs["direct_minio"]["parts_s"]
    base_checksums = runs["direct_minio_checksums"]["parts_s"]
    for name, r in runs.items():
        r["ratio_parts_vs_direct_checksums"] = round(base_checksums / r["parts_s"], 3)
        r["parts_mb_s"] = round(mbytes / r["parts_s"], 1)
        r["end_to_end_mb_s"] = round(mbytes / r["end_to_end_s"], 1)
        r["complete_s"] = round(r["end_to_end_s"] - r["parts_s"], 2)
        r["ratio_parts_vs_direct"] = round(base / r["parts_s"], 3)
        r["ratio_end_to_end_vs_direct"] = round(base / r["end_to_end_s"], 3)
        r["parts_s"] = round(r["parts_s"], 2)
        r["end_to_end_s"] = round(r["end_to_end_s"], 2)
        out[name] = r
    return out


def run(sizes: list[int], kubeconfig: str | None, repeat: int = 3) -> dict[str, Any]:
    work = plan_dir("bench-upload-")
    with minio() as s3, connect(kubeconfig) as kube:
        install_crd(kube)
        env = {
            "DUBBING_UPLOAD_CHUNK_BYTES": str(CHUNK),
            "DUBBING_MAX_UPLOAD_MIB": str(max(2048, 2 * max(sizes))),
            "DUBBING_UPLOAD_TRANSFER": "direct",
            "DUBBING_QUOTA_STORED_BYTES": "0",
        }
        with (
            namespace(kube, "bench-upload") as ns,
            redis(work) as rds,
            webui(kube, ns, s3, rds, work / "webui", env) as ui,
        ):
            client = s3.client()
            warm = _one_size(ui, client, work, 32, 1)  # first-use allocations (TLS-less pools, imports) are not growth
            results = [_one_size(ui, client, work, mib, repeat) for mib in sizes]
    return {
        "benchmark": "upload",
        "chunk_mib": CHUNK // MiB,
        "parallel_parts": PARALLEL,
        "repeat": repeat,
        "machine_cpus": os.cpu_count(),
        "warm_up_32mib": warm,
        "sizes": results,
        "sha256_verified": True,
    }


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# Uploads: direct MinIO, the browser's direct path, the web UI proxy ({r['chunk_mib']} MiB parts, "
        f"{r['parallel_parts']} at once, loopback)",
        "",
        "| file | path | parts s (median; all runs) | parts MB/s | ratio to direct | ratio to direct with checksums | complete s | end to end MB/s | web UI RSS before / peak / growth (MiB) | web UI CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in r["sizes"]:
        for name in PATHS:
            p = size[name]
            lines.append(
                f"| {size['file_mib']} MiB | {LABELS[name]} | {p['parts_s']}; {p['all_parts_s']} | {p['parts_mb_s']} | "
                f"{p['ratio_parts_vs_direct']} | {p['ratio_parts_vs_direct_checksums']} | {p['complete_s']} | {p['end_to_end_mb_s']} | "
                f"{p['webui_rss_before_mib']} / {p['webui_rss_peak_mib']} / +{p['webui_rss_growth_mib']} | "
                f"{p['webui_cpu_s']} |"
            )
    lines += [
        "",
        "ratio to direct = direct MinIO's parts seconds / the path's parts seconds (end to end adds `complete`:",
        "MinIO assembles, the web UI reads the object back for its SHA-256 and probes it).",
        "",
    ]
    return "\n".join(lines)


def svg(r: dict[str, Any]) -> str:
    """Two panels: MB/s of the parts per path and size; the web UI's RSS growth per path and size."""
    colors = {
        "direct_minio": "#4c78a8",
        "direct_minio_checksums": "#9ecae9",
        "browser_direct": "#54a24b",
        "webui_proxy": "#e45756",
    }
    sizes = r["sizes"]
    w, h, pad, bar = 400, 240, 40, 20
    parts: list[str] = []

    def panel(x0: int, title: str, key: str, unit: str) -> None:
        top = max((s[n][key] for s in sizes for n in PATHS), default=1) or 1
        parts.append(f'<text x="{x0 + 10}" y="18" font-size="13" font-weight="bold">{title}</text>')
        for gi, s in enumerate(sizes):
            gx = x0 + pad + gi * (len(PATHS) * bar + 30)
            for pi, name in enumerate(PATHS):
                v = s[name][key]
                bh = (h - 90) * v / top
                x, y = gx + pi * bar, h - 40 - bh
                parts.append(f'<rect x="{x}" y="{y:.1f}" width="{bar - 4}" height="{bh:.1f}" fill="{colors[name]}"/>')
                parts.append(f'<text x="{x + (bar - 4) / 2}" y="{y - 3:.1f}" text-anchor="middle">{v:g}</text>')
            parts.append(
                f'<text x="{gx + len(PATHS) * bar / 2}" y="{h - 24}" text-anchor="middle">{s["file_mib"]} MiB</text>'
            )
        parts.append(f'<text x="{x0 + 10}" y="{h - 6}" fill="#555">{unit}</text>')

    panel(0, "Parts throughput", "parts_mb_s", "MB/s (higher is better)")
    panel(w, "Web UI RSS growth", "webui_rss_growth_mib", "MiB over the baseline (flat is better)")
    for i, name in enumerate(PATHS):
        y = h + 14 + 16 * i
        parts.append(f'<rect x="10" y="{y - 9}" width="10" height="10" fill="{colors[name]}"/>')
        parts.append(f'<text x="26" y="{y}">{LABELS[name]}</text>')
    height = h + 14 + 16 * len(PATHS)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w}" height="{height}" font-family="sans-serif" '
        f'font-size="11"><rect width="100%" height="100%" fill="white"/>' + "".join(parts) + "</svg>\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--mb", type=int, action="append", help="file size in MiB, repeatable (default 256, 1024)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path per size (median reported)")
    parser.add_argument("--kubeconfig")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    args = parser.parse_args(argv)
    result = run(args.mb or [256, 1024], args.kubeconfig, args.repeat)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "upload.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (args.out / "upload.md").write_text(markdown(result))
    (args.out / "upload.svg").write_text(svg(result))
    print(markdown(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
