"""A stage Pod the cluster deleted: the job page's log comes from the copy the stage kept in the
artifact store (real API server, real MinIO)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from dubbing.stages.layout import job_log_key

from . import uploadclient as uc
from .conftest import WebUI
from .jobstatus import set_status

pytestmark = [pytest.mark.cluster, pytest.mark.minio]


def _log_events(c: Any, name: str, stage: str) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    event = ""
    with c.stream("GET", f"/api/jobs/{name}/logs", params={"stage": stage}, timeout=30) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                out.append((event, json.loads(line[6:])))
                if event == "end":
                    break
    return out


def test_a_gone_pods_log_is_read_from_the_kept_copy(webui: WebUI, kube: Any, media_dir: Path) -> None:
    with webui.client("alice") as c:
        name = uc.uploaded_job(c, media_dir / "kept-logs.wav", ["es"])
        pods = {"extract": f"{name}-extract-gone", "asr": f"{name}-asr-gone"}
        set_status(
            kube,
            webui.namespace,
            name,
            {
                "phase": "Running",
                "currentStage": "asr",
                "stages": [
                    {"name": "extract", "phase": "Succeeded", "podName": pods["extract"]},
                    {"name": "asr", "phase": "Failed", "podName": pods["asr"]},
                ],
            },
        )
        kept = "[extract]   0.0% probing\nffmpeg says: Stream #0:0: Audio\n[extract] 100.0% done\n"
        client = webui.s3.client()
        key = job_log_key(webui.namespace, name, pods["extract"])
        client.put_object(webui.bucket, key, io.BytesIO(kept.encode()), len(kept))
        # No such Pod in the cluster: the kept copy, line by line, then the end.
        events = _log_events(c, name, "extract")
        assert [d["line"] for e, d in events if e == "log"] == kept.splitlines()
        assert events[-1][0] == "end"
        # A gone Pod whose log was not kept says so.
        events = _log_events(c, name, "asr")
        errors = [d["message"] for e, d in events if e == "error"]
        assert errors and "its log was not kept" in errors[0], events
        # Another user's job stays invisible.
        with webui.client("bob") as other:
            assert other.get(f"/api/jobs/{name}/logs", params={"stage": "extract"}).status_code == 404
        client.remove_object(webui.bucket, key)
