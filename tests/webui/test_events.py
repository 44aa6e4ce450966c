"""Server-sent events: one watch fanned out, ids, Last-Event-ID replay or snapshot, keep-alives."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.stack.media import make_wav
from dubbing.api import v1alpha1 as api

from . import uploadclient as uc
from .conftest import WebUI
from .jobstatus import set_status

pytestmark = [pytest.mark.cluster, pytest.mark.minio]


def read_events(
    c: httpx.Client, until: Any, headers: dict[str, str] | None = None, timeout: float = 20
) -> tuple[list[dict[str, Any]], str]:
    """Parse the stream into events until ``until(events)`` is true; returns the events and the raw text."""
    events: list[dict[str, Any]] = []
    raw = ""
    deadline = time.monotonic() + timeout
    with c.stream("GET", "/api/events", headers=headers or {}, timeout=timeout) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        buf = ""
        for chunk in resp.iter_text():
            raw += chunk
            buf += chunk
            while "\n\n" in buf:
                block, buf = buf.split("\n\n", 1)
                ev: dict[str, Any] = {}
                for line in block.split("\n"):
                    if line.startswith(":"):
                        ev.setdefault("comment", line)
                    elif ":" in line:
                        k, v = line.split(":", 1)
                        ev[k] = v.strip()
                if "data" in ev:
                    ev["data"] = json.loads(ev["data"])
                events.append(ev)
            if until(events) or time.monotonic() > deadline:
                break
    return events, raw


def test_stream_replays_from_last_event_id_or_sends_a_snapshot(webui: WebUI, kube: Any, media_dir: Path) -> None:
    with webui.client("alice") as c:
        name = uc.uploaded_job(c, media_dir / "events.wav", ["es"], size=6 * 1000 * 1000)
        first, _ = read_events(c, lambda evs: any(e.get("event") == "snapshot" for e in evs))
        snap = next(e for e in first if e.get("event") == "snapshot")
        assert name in [j["name"] for j in snap["data"]["jobs"]] and snap.get("id")
        last_id = snap["id"]

        def patch() -> None:
            time.sleep(0.5)
            for stage, progress in (("extract", 10.0), ("separate", 30.0)):
                set_status(
                    kube, webui.namespace, name, {"phase": "Running", "currentStage": stage, "progress": progress}
                )

        # Live: both changes arrive on an open stream, each with an id.
        t = threading.Thread(target=patch)
        t.start()
        live, _ = read_events(
            c, lambda evs: any(e.get("event") == "job" and e["data"]["currentStage"] == "separate" for e in evs)
        )
        t.join()
        changes = [e for e in live if e.get("event") == "job" and e["data"]["name"] == name]
        assert [e["data"]["currentStage"] for e in changes][-2:] == ["extract", "separate"]
        assert all(e.get("id") for e in changes)

        # Reconnect with the snapshot's id: what was missed is replayed, no snapshot.
        replay, _ = read_events(
            c,
            lambda evs: any(e.get("event") == "job" and e["data"]["currentStage"] == "separate" for e in evs),
            headers={"Last-Event-ID": last_id},
        )
        kinds = [e.get("event") for e in replay if e.get("event")]
        assert "snapshot" not in kinds
        assert [e["data"]["currentStage"] for e in replay if e.get("event") == "job"][-2:] == ["extract", "separate"]

        # An id the server no longer has gets a full snapshot.
        again, _ = read_events(
            c, lambda evs: any(e.get("event") == "snapshot" for e in evs), headers={"Last-Event-ID": "1"}
        )
        snap2 = next(e for e in again if e.get("event") == "snapshot")
        job = next(j for j in snap2["data"]["jobs"] if j["name"] == name)
        assert job["currentStage"] == "separate" and job["progress"] == 30.0

        # Quiet streams carry keep-alive comments (1 s in the tests).
        quiet, raw = read_events(c, lambda evs: any("comment" in e for e in evs), timeout=10)
        assert ": keep-alive" in raw


def test_models_health_metrics_and_openapi(webui: WebUI, kube: Any, media_dir: Path) -> None:
    path = media_dir / "metrics.wav"
    make_wav(path, 6 * 1000 * 1000)
    with webui.client("alice") as c:
        uc.upload(c, path)
        models = c.get("/api/models").json()
        stages = {b["stage"] for b in models["backends"]}
        assert stages == set(api.STAGES)
        for b in models["backends"]:
            assert {"installed", "enabled", "ready", "reason"} <= set(b)
            assert b["ready"] or b["reason"], b  # a backend that is not ready says why
        gpu_nodes = {
            n.metadata.name: int(n.status.allocatable.get("nvidia.com/gpu", 0))
            for n in kube.core().list_node().items
            if int(n.status.capacity.get("nvidia.com/gpu", 0)) > 0
        }
        assert {n["name"]: n["allocatable"] for n in models["gpuNodes"]} == gpu_nodes
        assert all(0 <= n["free"] <= n["allocatable"] for n in models["gpuNodes"])
        spec = c.get("/api/openapi.json").json()
        for path in (
            "/api/uploads",
            "/api/uploads/{upload_id}/chunks/{index}",
            "/api/jobs",
            "/api/events",
            "/api/jobs/{name}/logs",
            "/api/models",
            "/api/settings/notifications",
        ):
            assert path in spec["paths"], path
        assert c.get("/api/docs").status_code == 200
    anon = webui.anonymous()
    assert anon.get("/healthz").text == "ok"
    ready = anon.get("/readyz").json()
    expected = {"ready": True, "apiServer": "ok", "minio": "ok", "redis": "ok", "jobWatch": "ok"}
    if "DUBBING_DATABASE_URL" in webui.env:
        expected["database"] = "ok"  # PostgreSQL: its health is part of readiness
    assert ready == expected
    metrics = anon.get("/metrics").text
    assert "dubbing_webui_requests_total" in metrics and "dubbing_webui_upload_chunks_total" in metrics
    assert 'dubbing_webui_uploads_completed_total{result="ok"}' in metrics
