"""The voice library through the web UI: owner-only API and page; a job naming another user's voice is refused
(as not in the user's library, exactly like an unknown id).

Alice's job is created through the API; what its stages would have left in the bucket (the asr
transcript, the separated vocals: the stages run elsewhere) is laid there as a stage Pod writes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devcluster.stack.media import make_wav
from dubbing.artifacts.minio_store import MinioStore, S3Settings
from dubbing.espeak_run import run_espeak
from dubbing.stages import layout

from . import uploadclient as uc
from .conftest import PASSWORD, WebUI, browser_login

pytestmark = [pytest.mark.cluster, pytest.mark.minio]


def _store(webui: WebUI) -> MinioStore:
    host = webui.s3.endpoint.split("://", 1)[1]
    return MinioStore(
        webui.bucket,
        "",
        S3Settings(endpoint=host, access_key=webui.s3.access_key, secret_key=webui.s3.secret_key, secure=False),
    )


def _lay_stage_outputs(store: MinioStore, namespace: str, job: str, tmp: Path) -> None:
    """The asr transcript (two speakers, word probabilities) and separated vocals of ``job``."""
    vocals = tmp / "vocals.wav"
    run_espeak(["espeak-ng", "-v", "en-us", "-w", str(vocals), "one two three four five six seven eight nine ten " * 3])
    words = lambda s, e, p: [{"start": s, "end": e, "word": "word", "probability": p}]  # noqa: E731
    transcript = {
        "language": "en",
        "segments": [
            {"id": 0, "start": 0.0, "end": 2.5, "text": "one", "speaker": "S0", "words": words(0.0, 2.5, 0.9)},
            {"id": 1, "start": 2.6, "end": 5.0, "text": "two", "speaker": "S1", "words": words(2.6, 5.0, 0.8)},
            {"id": 2, "start": 5.1, "end": 8.0, "text": "three", "speaker": "S0", "words": words(5.1, 8.0, 0.4)},
        ],
    }
    (tmp / "transcript.json").write_text(json.dumps(transcript))
    for stage, name, path in (("asr", "transcript.json", tmp / "transcript.json"), ("separate", "vocals.wav", vocals)):
        info = store.put_file(layout.cache_object(stage, "k-" + job, name), path)
        entry = {"outputs": {name: {"key": info.key, "sha256": info.sha256, "size": info.size}}}
        store.put_json(layout.job_index_key(namespace, job, stage), {"stage": stage, "entries": {"_": entry}})


@pytest.fixture(scope="module")
def alices(webui: WebUI, media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = media_dir / "voices-alice.wav"
    make_wav(path, 200 * 1000)
    with webui.client("alice") as c:
        done = uc.upload(c, path)
        job = c.post("/api/jobs", json={"uploadId": done["id"], "targetLanguages": ["es"]})
        assert job.status_code == 201, job.text
    name = job.json()["name"]
    _lay_stage_outputs(_store(webui), webui.namespace, name, tmp_path_factory.mktemp("stage-outputs"))
    return {"upload": done["id"], "job": name}


def test_owner_saves_lists_renames_and_deletes_and_nobody_else_can(webui: WebUI, alices: dict[str, Any]) -> None:
    save = {"job": alices["job"], "speaker": "S0", "name": "Narrator", "consent": "Alice agreed on 2026-12-01"}
    with webui.client("alice") as alice, webui.client("bob") as bob:
        created = alice.post("/api/voices", json=save)
        assert created.status_code == 201, created.text
        voice = created.json()
        assert voice["speaker"] == "S0" and voice["sourceJob"] == alices["job"] and 2.0 <= voice["seconds"] <= 6.0
        assert [v["id"] for v in alice.get("/api/voices").json()] == [voice["id"]]
        # bob: not his job to keep voices of, not his voice to see, rename or delete
        assert bob.post("/api/voices", json=save).status_code == 404
        assert bob.get("/api/voices").json() == []
        for method, kw in (("GET", {}), ("PATCH", {"json": {"name": "mine"}}), ("DELETE", {})):
            r = bob.request(method, f"/api/voices/{voice['id']}", **kw)
            # exactly as a missing id answers: the id is no oracle of another user's library
            assert r.status_code == 404 and r.json()["detail"]["reason"] == "VoiceNotFound", r.text
            assert r.json()["detail"]["message"] == f"no voice {voice['id']} in your voice library"
        assert alice.get(f"/api/voices/{voice['id']}").json()["name"] == "Narrator"  # nothing applied
        # bad input: unknown speaker, no consent, an unknown id
        bad = alice.post("/api/voices", json={**save, "speaker": "S7"})
        assert bad.status_code == 404 and "has no speaker 'S7' (it has S0, S1)" in bad.text
        assert alice.post("/api/voices", json={**save, "consent": ""}).status_code == 422
        assert alice.get("/api/voices/v-00000000deadbeef").status_code == 404
        renamed = alice.patch(f"/api/voices/{voice['id']}", json={"name": "Host"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Host"
        assert alice.delete(f"/api/voices/{voice['id']}").status_code == 204
        assert alice.get("/api/voices").json() == []


def test_a_job_naming_another_users_voice_is_refused_before_it_is_created(webui: WebUI, alices: dict[str, Any]) -> None:
    save = {"job": alices["job"], "speaker": "S1", "name": "Guest", "consent": "recorded with consent"}
    with webui.client("alice") as alice, webui.client("bob") as bob:
        voice = alice.post("/api/voices", json=save).json()
        jobs_before = len(bob.get("/api/jobs").json())
        bobs = uc.upload(bob, _wav(webui, "voices-bob.wav"))
        r = bob.post(
            "/api/jobs",
            json={
                "uploadId": bobs["id"],
                "targetLanguages": ["es"],
                "options": {"voices": {"S0": {"library": voice["id"]}}},
            },
        )
        assert r.status_code == 404 and r.json()["detail"]["reason"] == "VoiceNotFound", r.text
        assert f"no voice {voice['id']} in your voice library" in r.text
        assert len(bob.get("/api/jobs").json()) == jobs_before  # nothing created
        # the owner's job with her own voice is created, with the mapping in its spec
        ok = alice.post(
            "/api/jobs",
            json={"uploadId": alices["upload"], "targetLanguages": ["es"], "options": {"voices": {"S1": {"library": voice["id"]}, "S0": {"voice": "f3"}}}},
        )  # fmt: skip
        assert ok.status_code == 201, ok.text
        spec = alice.get(f"/api/jobs/{ok.json()['name']}").json()["spec"]
        assert spec["voices"] == {"S1": {"library": voice["id"]}, "S0": {"voice": "f3"}}
        # a malformed mapping is refused by the job's own validation, with the field named
        bad = alice.post(
            "/api/jobs",
            json={"uploadId": alices["upload"], "targetLanguages": ["es"], "options": {"voices": {"S0": {"voice": "a", "clone": True}}}},
        )  # fmt: skip
        assert bad.status_code == 422 and "exactly one of voice, library or clone" in bad.text


def _wav(webui: WebUI, name: str) -> Path:
    path = Path(webui.log).parent / name
    make_wav(path, 200 * 1000)
    return path


def test_the_page_lists_saves_and_refuses_with_the_reason(webui: WebUI, alices: dict[str, Any]) -> None:
    alice, csrf = browser_login(webui.base, "alice", PASSWORD)
    bob, bob_csrf = browser_login(webui.base, "bob", PASSWORD)
    try:
        form = {
            "csrf_token": csrf,
            "job": alices["job"],
            "speaker": "S0",
            "name": "Page voice",
            "consent": "yes, in writing",
        }
        saved = alice.post("/voices", data=form)
        assert saved.status_code == 303 and saved.headers["location"] == "/voices?done=saved"
        page = alice.get("/voices")
        assert page.status_code == 200 and "Page voice" in page.text
        with webui.client("alice") as api:
            voice_id = next(v["id"] for v in api.get("/api/voices").json() if v["name"] == "Page voice")
        refused = bob.post(f"/voices/{voice_id}/delete", data={"csrf_token": bob_csrf})
        assert refused.status_code == 404 and f"no voice {voice_id} in your voice library" in refused.text
        assert "Page voice" not in bob.get("/voices").text
        assert alice.post(f"/voices/{voice_id}/delete", data={"csrf_token": csrf}).status_code == 303
        assert "Page voice" not in alice.get("/voices").text
    finally:
        alice.close()
        bob.close()


def test_deleting_an_account_deletes_its_voices(webui: WebUI, tmp_path: Path) -> None:
    from dubbing.voices.library import VoiceLibrary

    store = _store(webui)
    others = VoiceLibrary(store, "alice").save("Alice's", "hers", _wav(webui, "alice-voice.wav"), {})
    with webui.client("admin") as admin:
        created = admin.post("/api/users", json={"name": "carol", "password": PASSWORD, "role": "user"})
        assert created.status_code == 201, created.text
        ref = tmp_path / "carol.wav"
        run_espeak(["espeak-ng", "-w", str(ref), "Carol speaking."])
        VoiceLibrary(store, "carol").save("Carol", "her own voice", ref, {"speaker": "S0"})
        assert list(store.list("voices/carol/"))
        assert admin.delete("/api/users/carol").status_code == 204
    assert not list(store.list("voices/carol/"))
    assert VoiceLibrary(store, "alice").get(others.id).name == "Alice's"  # another user's voices stay
