"""The scorecard on the job page and in the API, without a cluster: the pure view (headline rows,
strip geometry, misfit flags) and the routes through FastAPI's TestClient, with the job held by
a fake Kubernetes client and the scorecard served by a fake object store (httpx MockTransport
behind the web UI's own ObjectStore)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from kubernetes.client.exceptions import ApiException

from dubbing.api import v1alpha1 as api
from dubbing_webui import scorecards as sc
from dubbing_webui.accounts import Accounts
from dubbing_webui.app import create_app
from dubbing_webui.auth import SESSION_COOKIE
from dubbing_webui.config import Settings
from dubbing_webui.events import JobEventHub
from dubbing_webui.glossaries import GlossaryService
from dubbing_webui.jobs import JobService
from dubbing_webui.limits import RateLimit, StreamSlots
from dubbing_webui.metrics import Metrics
from dubbing_webui.model_pulls import ModelPulls
from dubbing_webui.objects import ObjectMissing, ObjectStore
from dubbing_webui.redisconn import RedisLink
from dubbing_webui.services import Services
from dubbing_webui.store import Store
from dubbing_webui.throttle import LoginThrottle
from dubbing_webui.uploads import UploadService

from .scorecard_sample import MISFIT_ID, SEGMENTS, sample_scorecard, status_outputs

NS = "dubbing"
BUCKET = "dubbing"
PASSWORD = "correct-horse-battery"
MINUS = "\u2212"


# ------------------------------------------------------------------ the view


def test_headline_rows_from_the_status_figures_with_words_where_a_figure_needs_a_look() -> None:
    card = sample_scorecard()
    rows = {r["key"]: r for r in sc.headline(card["summary"], card)}
    assert [r["key"] for r in sc.headline(card["summary"], card)] == [
        "intelligibility",
        "timing",
        "voice",
        "voices",
        "loudness",
        "sync",
    ]
    assert rows["intelligibility"]["value"] == "WER 6.2 %" and rows["intelligibility"]["detail"] == "CER 2.7 %"
    assert rows["intelligibility"]["flag"] is None
    assert rows["timing"]["value"] == "12/13 in slot" and rows["timing"]["flag"] == "misfits"
    assert rows["timing"]["detail"] == "overrun 2.1 s"
    assert rows["voice"]["value"] == "min 0.79" and rows["voice"]["detail"] == "S0 0.79, S1 0.86"
    assert rows["voices"]["label"] == "Dub\u2194dub voices" and rows["voice"]["label"] == "Source\u2194dub voice"
    assert rows["voices"]["value"] == "max 0.73" and rows["voices"]["detail"] == "same-speaker 0.96: distinct"
    assert (
        rows["loudness"]["value"] == f"{MINUS}16.2 LUFS"
        and rows["loudness"]["detail"] == f"target {MINUS}16.0 · true peak {MINUS}1.5 dBTP"
    )
    assert (
        rows["sync"]["value"] == f"median {MINUS}0.18 s"
        and rows["sync"]["detail"] == "max 0.32 s"
        and rows["sync"]["flag"] is None
    )

    bad = {"wer": 0.31, "inSlot": 13, "segments": 13, "overrunSeconds": 0.0, "maxCrossSpeakerSimilarity": 0.99,
           "sameSpeakerSimilarity": 0.97, "lufs": -13.4, "truePeak": -1.2, "onsetDriftMedian": 0.1, "onsetDriftMax": 0.8}  # fmt: skip
    rows = {r["key"]: r for r in sc.headline(bad, card)}
    assert rows["intelligibility"]["flag"] == "high" and rows["intelligibility"]["value"] == "WER 31 %"
    assert rows["timing"]["flag"] is None and rows["timing"]["value"] == "13/13 in slot"
    assert rows["voices"]["flag"] == "too alike" and rows["voices"]["detail"].endswith("too alike")
    assert rows["loudness"]["flag"] == "off target" and rows["sync"]["flag"] == "late/early"
    assert sc.headline({"lufs": -16.1, "truePeak": -0.4}, card)[4]["flag"] == "peak over"


def test_headline_says_what_was_not_measured_and_why() -> None:
    card = sample_scorecard()
    card["intelligibility"] = {"error": "ASR backend not ready: weights absent"}
    card["voice"] = {"error": "speaker encoder not ready: module onnxruntime not installed"}
    quality = {"fitShare": 1.0, "lufs": -16.0, "unmeasured": ["intelligibility", "voice"]}
    rows = {r["key"]: r for r in sc.headline(quality, {**card, "summary": {}})}
    assert rows["intelligibility"]["value"] == "not measured" and "weights absent" in rows["intelligibility"]["detail"]
    assert rows["voice"]["value"] == "not measured" and "onnxruntime" in rows["voice"]["detail"]
    assert rows["voices"]["value"] == "not measured"
    assert rows["timing"]["value"] == "100 % in slot"  # a summary without the counts: the share
    # no scorecard at all (it could not be read): the status's figures alone
    rows = {r["key"]: r for r in sc.headline({"wer": 0.08, "inSlot": 13, "segments": 13, "lufs": -16.2}, None)}
    assert (
        rows["intelligibility"]["value"] == "WER 8.0 %"
        and rows["loudness"]["detail"] == ""
        and rows["sync"]["value"] == "not measured"
    )


def test_status_figures_are_completed_from_the_scorecards_summary() -> None:
    card = sample_scorecard()
    cut = {"wer": 0.0615, "fitShare": 0.9231}  # the termination message had room for a few only
    merged = sc.figures(cut, card)
    assert merged["wer"] == 0.0615 and merged["onsetDriftMax"] == card["summary"]["onsetDriftMax"]
    assert sc.figures({"wer": 0.5}, card)["wer"] == 0.5  # the status wins where it has the figure


def test_details_of_each_section_in_words() -> None:
    card = sample_scorecard()
    d = sc.details(card)
    assert d["timing"]["counts"] == ["fit their slot 8", "ran into the pause after 3", "sped up 1", "did not fit 1"]
    assert d["timing"]["misfits"] == ["#3 (S1) at 6.8 s: needs 2.97x, allowed 1.25x; ran 2.13 s past its slot"]
    assert d["intelligibility"]["asr"] == "faster-whisper base" and d["intelligibility"]["edits"]["substitutions"] == 4
    assert d["intelligibility"]["worst"][0] == {
        "id": 4,
        "speaker": "S0",
        "wer": "100 %",
        "reference": "Três? Isso é muito.",
        "heard": "",
    }
    assert [s["source"] for s in d["voice"]["speakers"]] == ["0.79", "0.86"] and d["voice"]["pairs"] == [
        {"a": "S0", "b": "S1", "similarity": "0.73"}
    ]
    assert (
        d["loudness"]["deviation"] == f"{MINUS}0.2"
        and d["loudness"]["limit"] == f"{MINUS}1.5"
        and d["loudness"]["overLimit"] is False
    )
    assert d["sync"]["worst"][0] == {"id": 7, "drift": "0.32 s"} and d["sync"]["measured"] == 13
    card["voice"] = {"error": "speaker encoder not ready"}
    assert sc.details(card)["voice"] == {"error": "speaker encoder not ready"} and sc.details(None) == {}


def test_strip_geometry_in_percent_of_the_media_with_the_misfit_flagged() -> None:
    strip = sc.strip(sample_scorecard())
    assert strip is not None and strip["seconds"] == 30.0 and strip["misfits"] == 1
    segs = strip["segments"]
    assert [s["id"] for s in segs] == [row[0] for row in SEGMENTS]
    first = segs[0]
    assert (first["slotStart"], first["slotEnd"], first["start"], first["end"]) == (0.5, 2.4, 0.5, 2.1)
    assert first["slotLeft"] == pytest.approx(100 * 0.5 / 30, abs=1e-3) and first["slotWidth"] == pytest.approx(
        100 * 1.9 / 30, abs=1e-3
    )
    assert first["dubWidth"] == pytest.approx(100 * 1.6 / 30, abs=1e-3) and not first["misfit"] and first["label"] == ""
    misfit = next(s for s in segs if s["id"] == MISFIT_ID)
    assert misfit["misfit"] and misfit["status"] == "tooLong" and misfit["label"] == "over +2.1 s"
    assert misfit["end"] == pytest.approx(6.8 + 4.6 / 1.25, abs=1e-3)
    assert misfit["dubLeft"] == misfit["slotLeft"] == misfit["boxLeft"] == pytest.approx(100 * 6.8 / 30, abs=1e-3)
    # its box ends with its window (the next segment's start less the guard); its dub runs on past it, over the next one
    window = 8.35
    assert (
        misfit["boxWidth"] == pytest.approx(100 * (window - 6.8) / 30, abs=1e-3)
        and misfit["dubWidth"] > misfit["boxWidth"]
    )
    assert misfit["slotIn"] == (0.0, pytest.approx(100 * 1.2 / (window - 6.8), abs=1e-2))
    assert misfit["dubIn"] == (0.0, pytest.approx(100 * (misfit["end"] - 6.8) / (window - 6.8), abs=1e-2))
    boxes = sorted((s["boxLeft"], s["boxLeft"] + s["boxWidth"]) for s in segs)
    assert all(a[1] <= b[0] + 1e-6 for a, b in zip(boxes, boxes[1:], strict=False)), (
        boxes
    )  # no box covers another: each can be clicked
    assert (
        "does not fit: 2.13 s over at 1.25x" in misfit["detail"]
        and "S1" in misfit["detail"]
        and "slot 6.80\u20138.00 s" in misfit["detail"]
    )
    assert [s["id"] for s in segs if s["misfit"]] == [MISFIT_ID]
    for s in segs:  # every box holds its slot, and the dub of those that fit, all inside the strip
        assert s["boxLeft"] <= min(s["slotLeft"], s["dubLeft"]) + 1e-6
        assert s["boxLeft"] + s["boxWidth"] >= s["slotLeft"] + s["slotWidth"] - 1e-3
        if not s["misfit"]:
            assert s["boxLeft"] + s["boxWidth"] >= s["dubLeft"] + s["dubWidth"] - 1e-3 and s["dubIn"][1] <= 100 + 1e-6
        assert 0 <= s["boxLeft"] and s["boxLeft"] + s["boxWidth"] <= 100 + 1e-6
    assert [t["label"] for t in strip["ticks"]] == ["0:00", "0:10", "0:20", "0:30"] and strip["ticks"][1][
        "left"
    ] == pytest.approx(33.333)
    assert strip["minWidthPx"] == 30 * sc.STRIP_PX_PER_SECOND


def test_strip_and_misfits_say_what_else_a_segment_needed() -> None:
    """A faster reading and a slowed video show in the segment's detail and in the misfit line; a
    scorecard written before those fields existed shows neither."""
    card = sample_scorecard()
    rows = card["timing"]["placements"]
    rows[0].update(rate=1.12, videoSlowdown=1.0)
    misfit_row = next(r for r in rows if r["id"] == MISFIT_ID)
    misfit_row.update(rate=1.25, videoSlowdown=1.4)
    segs = {s["id"]: s for s in sc.strip(card)["segments"]}  # type: ignore[index]
    assert (
        segs[rows[0]["id"]]["detail"].count("read at 1.12x") == 1
        and "video slowed" not in segs[rows[0]["id"]]["detail"]
    )
    assert "read at 1.25x \u00b7 video slowed 1.40x" in segs[MISFIT_ID]["detail"]
    assert all("read at" not in s["detail"] for i, s in segs.items() if i not in (rows[0]["id"], MISFIT_ID))
    card["timing"]["misfits"][0].update(rate=1.25, videoSlowdown=1.4)
    [line] = sc.details(card)["timing"]["misfits"]
    assert line.endswith("past its slot \u00b7 read at 1.25x \u00b7 video slowed 1.40x")
    [plain] = sc.details(sample_scorecard())["timing"]["misfits"]
    assert plain.endswith("past its slot")


def test_strip_without_slot_ends_or_placements() -> None:
    card = sample_scorecard()
    for row in card["timing"]["placements"]:
        row["slotEnd"] = None
    card["timing"]["mediaSeconds"] = None
    strip = sc.strip(card)
    assert strip is not None and strip["seconds"] == pytest.approx(
        max(r["windowEnd"] for r in card["timing"]["placements"])
    )
    assert all(s["slotWidth"] == 0 and not s["slotKnown"] for s in strip["segments"])
    del card["timing"]["placements"]
    assert sc.strip(card) is None and sc.strip({"timing": {"error": "x"}}) is None and sc.strip(None) is None
    assert sc.tick_step(3600, 10) == 600 and sc.clock(3725) == "1:02:05" and sc.clock(75) == "1:15"


def test_numbers_carry_a_typographic_minus_and_no_negative_zero() -> None:
    assert sc.signed(-16.24) == f"{MINUS}16.2" and sc.signed(0.3, 1, plus=True) == "+0.3" and sc.signed(-0.04) == "0.0"
    assert sc.signed(None) == "n/a" and sc.signed(float("nan")) == "n/a" and sc.seconds(-0.218) == f"{MINUS}0.22 s"
    assert (
        sc.percent(0.0615) == "6.2 %"
        and sc.percent(0.31) == "31 %"
        and sc.percent(0) == "0 %"
        and sc.percent(1.3) == "130 %"
    )


def _job(
    name: str, owner: str, langs: list[str], outputs: dict[str, Any] | None, input_key: str | None = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": f"{api.GROUP}/{api.VERSION}", "kind": "DubbingJob",
        "metadata": {"name": name, "namespace": NS, "labels": {api.OWNER_LABEL: owner}, "resourceVersion": "7",
                     "creationTimestamp": "2025-01-01T12:00:00Z"},
        "spec": {"input": {"bucket": BUCKET, "key": input_key or f"uploads/{owner}/u1/talk.wav"}, "targetLanguages": langs},
        "status": {"phase": "Succeeded", "progress": 100.0},
    }  # fmt: skip
    if outputs is not None:
        obj["status"]["outputs"] = outputs
    return obj


def test_language_choice_and_the_original_only_from_the_owners_uploads() -> None:
    card = sample_scorecard()
    two = _job(
        "j", "alice", ["pt-BR", "es"], status_outputs(BUCKET, "jobs/dubbing/j/outputs", "pt-BR", card["summary"])
    )
    with pytest.raises(sc.LanguageChoice, match="pt-BR, es"):
        sc.pick_language(two, None)
    with pytest.raises(sc.LanguageChoice, match="not a target language"):
        sc.pick_language(two, "fr")
    with pytest.raises(sc.ScorecardNotFound, match="es"):
        sc.pick_language(two, "es")
    assert sc.pick_language(two, "pt-BR")["report"] == "jobs/dubbing/j/outputs/pt-BR/scorecard.json"
    one = _job("k", "alice", ["pt-BR"], two["status"]["outputs"])
    assert sc.pick_language(one, None)["language"] == "pt-BR"

    service = sc.ScorecardService(None, ObjectStore(Settings(data_dir=Path("/nonexistent"), upload_bucket=BUCKET)))  # type: ignore[arg-type]
    url = service.source_url(one)
    assert url and "/dubbing/uploads/alice/u1/talk.wav?" in url and "X-Amz-Signature" in url
    for key in ("uploads/bob/u2/secret.wav", "uploads/alice/../bob/u2/x.wav", "elsewhere/talk.wav"):
        assert service.source_url(_job("k", "alice", ["pt-BR"], None, key)) is None, key
    other_bucket = _job("k", "alice", ["pt-BR"], None)
    other_bucket["spec"]["input"]["bucket"] = "media"
    assert service.source_url(other_bucket) is None
    assert (
        service.source_url(
            {**one, "spec": {"input": {"url": "https://example.com/a.mp4"}, "targetLanguages": ["pt-BR"]}}
        )
        is None
    )


# --------------------------------------------------------- the routes, no cluster


class FakeCustom:
    def __init__(self, jobs: dict[str, dict[str, Any]]) -> None:
        self.jobs = jobs

    def get_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> dict[str, Any]:
        if namespace != NS or name not in self.jobs:
            raise ApiException(status=404, reason="Not Found")
        return copy.deepcopy(self.jobs[name])


class FakeKube:
    def __init__(self, jobs: dict[str, dict[str, Any]]) -> None:
        self.custom = FakeCustom(jobs)
        self.core = None

    def healthy(self) -> bool:
        return True


class FakeS3:
    """Answers the presigned GETs the web UI's ObjectStore makes: /<bucket>/<key>."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.down = False
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if self.down:
            return httpx.Response(503, text="<Error><Code>ServiceUnavailable</Code></Error>")
        assert "X-Amz-Signature" in str(request.url)  # signed by the web UI's credentials
        bucket, _, key = unquote(urlsplit(str(request.url)).path).lstrip("/").partition("/")
        body = self.objects.get((bucket, key))
        return (
            httpx.Response(200, content=body)
            if body is not None
            else httpx.Response(404, text="<Error><Code>NoSuchKey</Code></Error>")
        )


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    return build_world(tmp_path)


def build_world(tmp_path: Path) -> dict[str, Any]:
    """The app with alice's, bob's and an admin's accounts, five jobs and their scorecards."""
    card = sample_scorecard()
    prefix = "jobs/dubbing/talk-1/outputs"
    outputs = status_outputs(BUCKET, prefix, "pt-BR", card["summary"], audio=f"{prefix}/pt-BR/dubbed.wav",
                             video=f"{prefix}/pt-BR/dubbed.mp4")  # fmt: skip
    jobs = {
        "talk-1": _job("talk-1", "alice", ["pt-BR"], outputs),
        "two-1": _job("two-1", "alice", ["pt-BR", "es"], status_outputs(BUCKET, "jobs/dubbing/two-1/outputs", "pt-BR", card["summary"])),
        "bobs-1": _job("bobs-1", "bob", ["pt-BR"], status_outputs(BUCKET, "jobs/dubbing/bobs-1/outputs", "pt-BR", card["summary"])),
        "running-1": {**_job("running-1", "alice", ["pt-BR"], None), "status": {"phase": "Running"}},
        "kubectl-1": _job("kubectl-1", "alice", ["pt-BR"], status_outputs(BUCKET, "jobs/dubbing/kubectl-1/outputs", "pt-BR", card["summary"]),
                          input_key="media/library.mp4"),
    }  # fmt: skip
    s3 = FakeS3()
    raw = json.dumps(card).encode()
    for name in ("talk-1", "two-1", "bobs-1", "kubectl-1"):
        s3.objects[(BUCKET, f"jobs/dubbing/{name}/outputs/pt-BR/scorecard.json")] = raw
    settings = Settings(data_dir=tmp_path / "data", namespace=NS, upload_bucket=BUCKET, watch_jobs=False)
    settings.data_dir.mkdir(parents=True)
    store = Store(settings.data_dir / "webui.sqlite3")
    link = RedisLink(None)
    accounts = Accounts(store, LoginThrottle(link, 5, 300), 24)
    objects = ObjectStore(settings)
    objects._http = httpx.Client(transport=httpx.MockTransport(s3))
    kube = FakeKube(jobs)
    job_service = JobService(kube, NS, store, objects)  # type: ignore[arg-type]
    svc = Services(settings=settings, store=store, redis=link, accounts=accounts, objects=objects,
                   uploads=UploadService(settings, store, objects), kube=kube, jobs=job_service,  # type: ignore[arg-type]
                   hub=JobEventHub(kube, NS), metrics=Metrics(), scorecards=sc.ScorecardService(job_service, objects),
                   pulls=ModelPulls(kube, None, NS, "dubbing-model-pull"),
                   streams=StreamSlots(store, 8), notify_tests=RateLimit(store, "test notifications", 3, 600),
                   glossaries=GlossaryService(store))  # fmt: skip
    app = create_app(settings, keepalive_s=1)
    app.state.services = svc  # no lifespan: nothing reaches for a cluster, MinIO or Redis
    users = {
        name: accounts.create_user(name, PASSWORD, role)
        for name, role in (("alice", "user"), ("bob", "user"), ("root", "admin"))
    }
    tokens = {name: accounts.new_api_token(user, "tests") for name, user in users.items()}
    return {"app": app, "svc": svc, "s3": s3, "card": card, "tokens": tokens, "users": users, "jobs": jobs}


def api_client(world: dict[str, Any], user: str | None) -> TestClient:
    headers = {"Authorization": f"Bearer {world['tokens'][user]}"} if user else {}
    return TestClient(world["app"], headers=headers)


def page_client(world: dict[str, Any], user: str) -> TestClient:
    sid, _ = world["svc"].accounts.start_session(world["users"][user])
    client = TestClient(world["app"])
    client.cookies.set(SESSION_COOKIE, sid)
    return client


def test_scorecard_api_returns_the_stored_scorecard_to_its_owner_only(world: dict[str, Any]) -> None:
    alice, bob, root = api_client(world, "alice"), api_client(world, "bob"), api_client(world, "root")
    r = alice.get("/api/jobs/talk-1/scorecard", params={"lang": "pt-BR"})
    assert r.status_code == 200 and r.json() == world["card"]
    assert (
        alice.get("/api/jobs/talk-1/scorecard").json()["language"] == "pt-BR"
    )  # one target language: lang may be left out
    assert bob.get("/api/jobs/talk-1/scorecard").status_code == 404  # not his: as if it did not exist
    assert bob.get("/api/jobs/talk-1/scorecard").json()["detail"] == "no such job"
    assert root.get("/api/jobs/talk-1/scorecard").status_code == 200  # an admin sees every job
    assert api_client(world, None).get("/api/jobs/talk-1/scorecard").status_code == 401
    assert alice.get("/api/jobs/nope/scorecard").status_code == 404
    r = alice.get("/api/jobs/two-1/scorecard")
    assert r.status_code == 422 and "pt-BR, es" in r.json()["detail"]
    assert alice.get("/api/jobs/two-1/scorecard", params={"lang": "fr"}).status_code == 422
    r = alice.get("/api/jobs/two-1/scorecard", params={"lang": "es"})
    assert r.status_code == 404 and r.json()["detail"] == "no scorecard for es yet"
    assert alice.get("/api/jobs/running-1/scorecard").status_code == 404
    del world["s3"].objects[(BUCKET, "jobs/dubbing/two-1/outputs/pt-BR/scorecard.json")]
    r = alice.get("/api/jobs/two-1/scorecard", params={"lang": "pt-BR"})
    assert r.status_code == 404 and "gone from the store" in r.json()["detail"]
    world["s3"].down = True
    r = alice.get("/api/jobs/talk-1/scorecard")
    assert r.status_code == 502 and "could not be read" in r.json()["detail"]
    # the object read is the one the job's status names, in the status's bucket
    assert all("/dubbing/jobs/dubbing/" in u for u in world["s3"].requests)


def test_scorecard_route_is_documented_in_openapi(world: dict[str, Any]) -> None:
    doc = api_client(world, None).get("/api/openapi.json").json()
    op = doc["paths"]["/api/jobs/{name}/scorecard"]["get"]
    assert op["summary"] == "The dub's scorecard of one language"
    [lang] = [p for p in op["parameters"] if p["name"] == "lang"]
    assert lang["in"] == "query" and not lang.get("required") and "pt-BR" in lang["description"]
    assert set(op["responses"]) >= {"200", "404", "422", "502"}
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert {"apiVersion", "summary", "timing", "voice", "loudness", "sync"} <= set(schema["properties"])


def test_job_page_shows_the_scorecard_panel_with_the_strip_and_the_media(world: dict[str, Any]) -> None:
    r = page_client(world, "alice").get("/jobs/talk-1")
    assert r.status_code == 200
    html = r.text
    panel = html[html.index('<section class="card scorecard" id="scorecard-pt-BR"') :]
    panel = panel[: panel.index("</section>")]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", panel))
    for expected in ("Scorecard · pt-BR", "WER 6.2 %", "CER 2.7 %", "12/13 in slot", "⚠ misfits", "overrun 2.1 s", "min 0.79",
                     "Dub↔dub voices max 0.73 same-speaker 0.96: distinct", f"{MINUS}16.2 LUFS", f"target {MINUS}16.0 · true peak {MINUS}1.5 dBTP",
                     f"median {MINUS}0.18 s", "max 0.32 s", "13 · 1 not in slot", "over +2.1 s",
                     "#3 (S1) at 6.8 s: needs 2.97x, allowed 1.25x; ran 2.13 s past its slot"):  # fmt: skip
        assert expected in text, expected
    buttons = re.findall(r'<button type="button" class="seg( misfit)?"[^>]*data-id="(\d+)"', panel)
    assert len(buttons) == 13 and [i for m, i in buttons if m] == [str(MISFIT_ID)]
    misfit = re.search(r'<button type="button" class="seg misfit" style="left: ([\d.]+)%; width: ([\d.]+)%"[^>]*'
                       r'data-slot-start="6.8" data-slot-end="8.0"\s+data-start="6.8" data-end="10.48"', panel)  # fmt: skip
    assert misfit and float(misfit.group(1)) == pytest.approx(22.667) and float(misfit.group(2)) == pytest.approx(5.167)
    dub = re.search(r'<audio class="dub-audio" preload="metadata" src="([^"]+)"', panel)
    src = re.search(r'<audio class="src-audio" preload="metadata" src="([^"]+)"', panel)
    assert dub and "/dubbing/jobs/dubbing/talk-1/outputs/pt-BR/dubbed.wav?" in dub.group(1).replace("&amp;", "&")
    assert src and "/dubbing/uploads/alice/u1/talk.wav?" in src.group(1)
    assert "Dubbing.scorecards()" in html and "min-width: 420px" in panel
    for section in ("intelligibility", "timing", "voice", "loudness", "sync"):
        assert f'data-section="{section}"' in panel
    # the page of a job whose original is not the owner's upload: the dub alone plays
    kubectl = page_client(world, "alice").get("/jobs/kubectl-1").text
    assert (
        'class="src-audio"' not in kubectl
        and "The original is not one of your uploads" in kubectl
        and "no dubbed audio or video" in kubectl
        and 'class="dub-audio"' not in kubectl
    )  # no media output either
    assert 'class="play-src hidden"' in kubectl and 'class="play-dub hidden"' in kubectl
    assert 'class="play-src"' in html and 'class="play-dub"' in html


def test_job_page_without_scores_or_with_the_store_down(world: dict[str, Any]) -> None:
    alice = page_client(world, "alice")
    running = alice.get("/jobs/running-1").text
    assert "scorecard" not in running.split("<main>")[1] and "Dubbing.scorecards()" not in running
    assert page_client(world, "bob").get("/jobs/talk-1").status_code == 404
    world["s3"].down = True
    page = alice.get("/jobs/talk-1")
    assert page.status_code == 200  # the figures from the status still show; the details say why they do not
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert "12/13 in slot" in text and "WER 6.2 %" in text and "the scorecard could not be read" in text
    assert 'class="seg' not in page.text


def test_small_reads_stop_at_the_limit_and_say_when_the_object_is_missing(tmp_path: Path) -> None:
    objects = ObjectStore(Settings(data_dir=tmp_path, upload_bucket=BUCKET))
    s3 = FakeS3()
    s3.objects[(BUCKET, "a.json")] = b"{}" * 100
    objects._http = httpx.Client(transport=httpx.MockTransport(s3))
    assert objects.read_small(BUCKET, "a.json", 1000) == b"{}" * 100
    with pytest.raises(IOError, match="larger than 10 bytes"):
        objects.read_small(BUCKET, "a.json", 10)
    with pytest.raises(ObjectMissing):
        objects.read_small(BUCKET, "b.json", 1000)


def test_links_to_outputs_and_media_are_short_lived(world: dict[str, Any]) -> None:
    """Every presigned link the API and the job page hand out expires within the hour."""
    outputs = api_client(world, "alice").get("/api/jobs/talk-1/outputs").json()
    urls = [row[k] for row in outputs for k in ("play", "download")]
    page = page_client(world, "alice").get("/jobs/talk-1").text
    urls += [u.replace("&amp;", "&") for u in re.findall(r'src="(http[^"]+)"', page)]
    assert len(urls) >= 4
    for url in urls:
        expires = int(re.search(r"X-Amz-Expires=(\d+)", url).group(1))  # type: ignore[union-attr]
        assert expires <= 3600, url
