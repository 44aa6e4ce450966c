"""Benchmark: the web UI's chunked upload against a plain multipart upload straight to MinIO.

Same machine, same file, one run: a WAV of ``--mb`` MB (random samples, written to
/var/tmp and removed afterwards) is uploaded (1) with the minio SDK's ``fput_object``
(multipart, part size = the web UI's chunk size) and (2) through the web UI's chunk API
as a script or the page does it: each chunk read, hashed (SHA-256) and PUT in order,
then ``complete`` (which assembles the object, computes its SHA-256 and probes it).
Reported: MB/s of each, the ratio web/direct (chunks only, and end to end with
``complete``), and the web UI process's RSS before and at its peak during the upload.

    python -m bench.upload [--mb 1024] [--out bench-results]

Results: ``<out>/upload.json`` and ``<out>/upload.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from devcluster.stack.kube import connect, install_crd, namespace
from devcluster.stack.media import make_wav
from devcluster.stack.procstat import ProcSampler, proc_cpu_seconds, proc_rss_kib
from devcluster.stack.redis import redis
from devcluster.stack.s3 import minio
from devcluster.stack.webui import webui
from devcluster.workloads import plan_dir

REPO = Path(__file__).resolve().parents[1]
CHUNK = 8 * 1024 * 1024


def _file_bytes(mb: int) -> int:
    size = mb * 1000 * 1000
    return size - (size - 44) % 4  # whole stereo 16-bit frames after the header


def run(mb: int, kubeconfig: str | None) -> dict[str, Any]:
    work = plan_dir("bench-upload-")
    media = work / "bench.wav"
    size = _file_bytes(mb)
    t0 = time.monotonic()
    sha = make_wav(media, size)
    gen_s = time.monotonic() - t0
    try:
        with minio() as s3, connect(kubeconfig) as kube:
            install_crd(kube)
            env = {"DUBBING_UPLOAD_CHUNK_BYTES": str(CHUNK), "DUBBING_MAX_UPLOAD_MIB": str(max(2048, 2 * mb))}
            with (
                namespace(kube, "bench-upload") as ns,
                redis(work) as rds,
                webui(kube, ns, s3, rds, work / "webui", env) as ui,
            ):
                client = s3.client()
                # (1) straight to MinIO.
                t = time.monotonic()
                client.fput_object(ui.bucket, "direct/bench.wav", str(media), part_size=CHUNK, content_type="audio/wav")
                direct_s = time.monotonic() - t
                client.remove_object(ui.bucket, "direct/bench.wav")
                # (2) through the web UI, RSS sampled all along.
                time.sleep(1)
                rss_before = proc_rss_kib(ui.proc.pid)
                cpu_before = proc_cpu_seconds(ui.proc.pid)
                with ProcSampler(ui.proc.pid, every=0.1) as sampler, ui.client("alice") as cl:
                    t = time.monotonic()
                    st = cl.post(
                        "/api/uploads", json={"name": media.name, "size": size, "type": "audio/wav", "sha256": sha}
                    ).json()
                    with media.open("rb") as fh:
                        for i in range(st["chunkCount"]):
                            data = fh.read(st["chunkSize"])
                            r = cl.put(
                                f"/api/uploads/{st['id']}/chunks/{i}",
                                content=data,
                                headers={
                                    "X-Chunk-SHA256": hashlib.sha256(data).hexdigest(),
                                    "Content-Type": "application/octet-stream",
                                },
                            )
                            if r.status_code != 200:
                                raise RuntimeError(f"chunk {i}: {r.status_code} {r.text[:200]}")
                    chunks_s = time.monotonic() - t
                    done = cl.post(f"/api/uploads/{st['id']}/complete")
                    while done.status_code == 202:  # assembled, still hashed and probed: ask again
                        time.sleep(0.2)
                        done = cl.post(f"/api/uploads/{st['id']}/complete")
                    web_s = time.monotonic() - t
                    if done.status_code != 200 or done.json().get("sha256") != sha:
                        raise RuntimeError(f"complete: {done.status_code} {done.text[:300]}")
                    cpu_web = proc_cpu_seconds(ui.proc.pid) - cpu_before
                    cl.delete(f"/api/uploads/{st['id']}")
    finally:
        media.unlink(missing_ok=True)
    mbytes = size / 1e6
    return {
        "benchmark": "upload",
        "file_mb": round(mbytes, 1),
        "chunk_mib": CHUNK // (1024 * 1024),
        "generate_s": round(gen_s, 1),
        "direct_minio_s": round(direct_s, 2),
        "direct_minio_mb_s": round(mbytes / direct_s, 1),
        "webui_chunks_s": round(chunks_s, 2),
        "webui_chunks_mb_s": round(mbytes / chunks_s, 1),
        "webui_complete_s": round(web_s - chunks_s, 2),
        "webui_end_to_end_s": round(web_s, 2),
        "webui_end_to_end_mb_s": round(mbytes / web_s, 1),
        "ratio_chunks_vs_direct": round(direct_s / chunks_s, 3),
        "ratio_end_to_end_vs_direct": round(direct_s / web_s, 3),
        "webui_rss_before_mib": round(rss_before / 1024, 1),
        "webui_rss_peak_mib": round(sampler.peak_kib() / 1024, 1),
        "webui_rss_growth_mib": round((sampler.peak_kib() - rss_before) / 1024, 1),
        "webui_cpu_s": round(cpu_web, 1),
        "sha256_verified": True,
    }


def markdown(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"# Upload: web UI chunk API vs plain multipart to MinIO ({r['file_mb']} MB, {r['chunk_mib']} MiB parts, loopback)",
            "",
            "| path | seconds | MB/s | ratio to direct |",
            "|---|---|---|---|",
            f"| minio SDK fput_object (direct) | {r['direct_minio_s']} | {r['direct_minio_mb_s']} | 1.0 |",
            f"| web UI chunks (hash + PUT each) | {r['webui_chunks_s']} | {r['webui_chunks_mb_s']} | {r['ratio_chunks_vs_direct']} |",
            f"| web UI end to end (+ complete: SHA-256, probe) | {r['webui_end_to_end_s']} | {r['webui_end_to_end_mb_s']} | {r['ratio_end_to_end_vs_direct']} |",
            "",
            f"Web UI RSS: {r['webui_rss_before_mib']} MiB before, {r['webui_rss_peak_mib']} MiB peak "
            f"(+{r['webui_rss_growth_mib']} MiB); CPU {r['webui_cpu_s']} s.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=1024, help="file size in MB (default 1024)")
    parser.add_argument("--kubeconfig")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    args = parser.parse_args(argv)
    result = run(args.mb, args.kubeconfig)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "upload.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (args.out / "upload.md").write_text(markdown(result))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
