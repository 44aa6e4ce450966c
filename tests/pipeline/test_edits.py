"""Segment edits through the real stage runtime (model backends are the doubles of
tests/pipeline/doubles.py; extract, mix and mux are the real thing)."""

from __future__ import annotations

import json

import pytest

from dubbing.artifacts import LocalStore
from dubbing.edits import EditsError, parse_document
from dubbing.segments import Transcript
from dubbing.stages import editstore, layout
from dubbing.stages.pipeline import make_job, run_pipeline

from . import doubles


def quiet(stage, percent, message):
    pass


@pytest.fixture
def fakes(monkeypatch, short_clip):
    doubles.install(monkeypatch, short_clip)
    return doubles


def transcript_of(store: LocalStore, name: str) -> Transcript:
    index = store.get_json(layout.job_index_key("local", name, "asr"))
    return Transcript.from_dict(store.get_json(index["entries"]["_"]["outputs"]["transcript.json"]["key"]))


def test_an_edit_of_one_translation_reruns_that_language_and_resynthesises_one_clip(tmp_path, short_clip, fakes):
    store = LocalStore(tmp_path / "store")
    job = make_job(short_clip.path, ["pt-BR", "es"], "en", {"separate": {"backend": "none"}}, name="ed")
    first = run_pipeline(job, store, short_clip.path, tmp_path / "out1", sink=quiet)
    segments = transcript_of(store, "ed").segments
    assert len(segments) >= 2
    target = segments[1]
    calls = fakes.FakeSynthesizer.calls

    saved = editstore.save(
        store,
        "local",
        "ed",
        parse_document({"segments": {str(target.id): {"translations": {"pt-BR": "Uma frase corrigida."}}}}),
        transcript_of(store, "ed"),
        ["pt-BR", "es"],
    )
    assert saved.version == 1 and editstore.versions(store, "local", "ed") == [1]

    second = run_pipeline(job, store, short_clip.path, tmp_path / "out2", sink=quiet)
    outcomes = {o.stage: o for o in second.outcomes}
    # nothing before tts reran: extract, separate, diarize, asr and both translations are cache hits
    for stage in ("extract", "separate", "diarize", "asr", "translate"):
        assert outcomes[stage].cache_hit, stage
        assert all(entry["cacheHit"] for entry in outcomes[stage].index["entries"].values())
    # tts, mix and mux reran for pt-BR only; es was a cache hit in each
    for stage in ("tts", "mix", "mux"):
        entries = outcomes[stage].index["entries"]
        assert entries["pt-BR"]["cacheHit"] is False and entries["es"]["cacheHit"] is True, stage
    tts = store.get_json(outcomes["tts"].index["entries"]["pt-BR"]["manifest"])
    assert tts["metrics"]["synthesizedClips"] == 1
    assert tts["metrics"]["reusedClips"] == len(segments) - 1
    assert fakes.FakeSynthesizer.calls == calls + 1
    assert "edits.json" in tts["inputs"]
    # the dubbed subtitles carry the edit; the other language's do not change
    srt = (tmp_path / "out2" / "ed.pt-BR.srt").read_text(encoding="utf-8")
    assert "Uma frase corrigida." in srt
    assert "Uma frase corrigida." not in (tmp_path / "out1" / "ed.pt-BR.srt").read_text(encoding="utf-8")
    assert (tmp_path / "out2" / "ed.es.srt").read_bytes() == (tmp_path / "out1" / "ed.es.srt").read_bytes()
    clips = store.get_json(tts["outputs"]["clips.json"]["key"])
    assert [c["text"] for c in clips["clips"] if c["id"] == target.id] == ["Uma frase corrigida."]
    assert first.outcomes[-1].stage == second.outcomes[-1].stage

    # the same edits again: every stage is a cache hit
    third = run_pipeline(job, store, short_clip.path, tmp_path / "out3", sink=quiet)
    assert all(o.cache_hit for o in third.outcomes), [(o.stage, o.cache_hit) for o in third.outcomes]


def test_a_source_text_edit_reruns_translate_and_refused_edits_store_nothing(tmp_path, short_clip, fakes):
    store = LocalStore(tmp_path / "store")
    job = make_job(short_clip.path, ["pt-BR"], "en", {"separate": {"backend": "none"}}, name="src")
    run_pipeline(job, store, short_clip.path, None, sink=quiet)
    transcript = transcript_of(store, "src")
    first = transcript.segments[0]

    bad = parse_document({"segments": {"999": {"text": "x"}, str(first.id): {"text": " "}}})
    with pytest.raises(EditsError) as refused:
        editstore.save(store, "local", "src", bad, transcript, ["pt-BR"])
    assert len(refused.value.reasons) == 2 and "no such segment" in str(refused.value)
    assert editstore.versions(store, "local", "src") == []
    assert not list(store.list(layout.job_edits_prefix("local", "src") + "/"))

    editstore.save(
        store,
        "local",
        "src",
        parse_document({"segments": {str(first.id): {"text": "Edited words."}}}),
        transcript,
        ["pt-BR"],
    )
    again = {o.stage: o for o in run_pipeline(job, store, short_clip.path, None, sink=quiet).outcomes}
    assert again["asr"].cache_hit and again["diarize"].cache_hit
    assert not again["translate"].cache_hit
    translation = store.get_json(again["translate"].index["entries"]["pt-BR"]["outputs"]["translation.json"]["key"])
    assert translation["segments"][0]["text"] == "Edited words."
    assert translation["segments"][0]["translation"] == "Edited words. (pt-BR)"


def test_dubbing_edit_shows_segments_and_stores_versions(tmp_path, short_clip, fakes, capsys):
    from dubbing.cli import main

    store = LocalStore(tmp_path / "store")
    job = make_job(short_clip.path, ["pt-BR"], "en", {"separate": {"backend": "none"}}, name="cli")
    run_pipeline(job, store, short_clip.path, None, sink=quiet)
    where = ["cli", "--artifacts", str(tmp_path / "store")]

    assert main(["edit", *where, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [s.id for s in transcript_of(store, "cli").segments]
    assert rows[0]["translations"]["pt-BR"] == rows[0]["text"] + " (pt-BR)" and not rows[0]["edited"]

    edits = tmp_path / "edits.json"
    edits.write_text(
        json.dumps({"segments": {str(rows[0]["id"]): {"translations": {"pt-BR": "Novo."}, "locked": True}}})
    )
    assert main(["edit", *where, "--apply", str(edits)]) == 0
    assert "edits version 1 stored for local/cli (1 segments edited)" in capsys.readouterr().out
    assert main(["edit", *where, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["translations"]["pt-BR"] == "Novo." and row["edited"] and row["locked"]
    assert main(["edit", *where]) == 0
    assert "Novo." in capsys.readouterr().out

    # bad input: every reason, exit 2, no new version
    edits.write_text(
        json.dumps({"segments": {"77": {"text": "x"}, str(rows[1]["id"]): {"translations": {"fr": "Oui"}}}})
    )
    assert main(["edit", *where, "--apply", str(edits)]) == 2
    err = capsys.readouterr().err
    assert "segment 77: no such segment" in err and "'fr' is not a target language of the job" in err
    edits.write_text("{not json")
    assert main(["edit", *where, "--apply", str(edits)]) == 2
    assert "is not JSON" in capsys.readouterr().err
    assert editstore.versions(store, "local", "cli") == [1]
    # a job that never ran has nothing to edit
    assert main(["edit", "nothing", "--artifacts", str(tmp_path / "store")]) == 2
    assert "has no transcript yet" in capsys.readouterr().err


def test_review_after_translate_then_the_rest_runs_with_the_edit(tmp_path, short_clip, fakes):
    """What a review pause does, stage by stage: the job stops after translate, the user edits one
    translation, and the stages after it take the edit in; the stages before are not run again."""
    from dubbing.api.v1alpha1 import STAGES

    store = LocalStore(tmp_path / "store")
    job = make_job(short_clip.path, ["pt-BR"], "en", {"separate": {"backend": "none"}}, name="rev")
    upto = STAGES[: STAGES.index("translate") + 1]
    paused = run_pipeline(job, store, short_clip.path, None, sink=quiet, stages=upto)
    assert [o.stage for o in paused.outcomes] == list(upto)
    transcript = transcript_of(store, "rev")
    index = store.get_json(layout.job_index_key("local", "rev", "translate"))
    translation = Transcript.from_dict(store.get_json(index["entries"]["pt-BR"]["outputs"]["translation.json"]["key"]))
    first = transcript.segments[0]
    editstore.save(
        store,
        "local",
        "rev",
        parse_document({"segments": {str(first.id): {"translations": {"pt-BR": "Revisado."}, "locked": True}}}),
        transcript,
        ["pt-BR"],
        translations={"pt-BR": translation},
    )
    rest = {o.stage: o for o in run_pipeline(job, store, short_clip.path, tmp_path / "out", sink=quiet).outcomes}
    for stage in upto:
        assert rest[stage].cache_hit, stage  # asr and diarize (and the rest before the pause) not rerun
    tts = store.get_json(rest["tts"].index["entries"]["pt-BR"]["manifest"])
    assert tts["metrics"]["synthesizedClips"] == len(transcript.segments)
    assert "Revisado." in (tmp_path / "out" / "rev.pt-BR.srt").read_text(encoding="utf-8")


def test_only_the_newest_versions_are_kept(tmp_path, monkeypatch):
    from dubbing.segments import Segment

    monkeypatch.setattr(editstore, "KEEP_VERSIONS", 3)
    store = LocalStore(tmp_path / "store")
    transcript = Transcript("en", (Segment(0, 0.0, 1.0, "Hi.", "S0", (), None),), duration=2.0)
    for number in range(5):
        editstore.save(
            store, "local", "many", parse_document({"segments": {"0": {"text": f"Hi {number}."}}}), transcript, ["es"]
        )
    assert editstore.versions(store, "local", "many") == [3, 4, 5]
    keys = {info.key for info in store.list(layout.job_edits_prefix("local", "many") + "/")}
    assert not any("/v000001" in key or "/v000002" in key for key in keys)
    assert editstore.load(store, "local", "many").segments[0].text == "Hi 4."


@pytest.mark.minio
def test_edits_in_a_real_s3_store_through_dubbing_edit(bucket, s3_env, tmp_path, capsys):
    """What a DubbingJob's user does: ``dubbing edit`` against the operator's s3:// store."""
    from dubbing.artifacts import open_store
    from dubbing.cli import main
    from dubbing.segments import Segment

    url = f"s3://{bucket}/artifacts"
    store = open_store(url)
    transcript = Transcript("en", (Segment(0, 0.0, 1.0, "Hi.", "S0", (), None),), duration=2.0)
    asr_key = "cache/asr/k/transcript.json"
    info = store.put_json(asr_key, transcript.to_dict())
    ref = {"key": asr_key, "sha256": info.sha256 or "0" * 64, "size": info.size}
    store.put_json(
        layout.job_index_key("team", "clip", "asr"), {"entries": {"_": {"outputs": {"transcript.json": ref}}}}
    )
    edits = tmp_path / "edits.json"
    edits.write_text(json.dumps({"segments": {"0": {"text": "Hello."}}}))
    where = ["clip", "--namespace", "team", "--artifacts", url]
    assert main(["edit", *where, "--language", "es", "--apply", str(edits)]) == 0
    assert "edits version 1 stored for team/clip" in capsys.readouterr().out
    assert editstore.versions(store, "team", "clip") == [1]
    slice_ref = editstore.slice_input(store, "team", "clip", editstore.SOURCE_SLICE)["edits.json"]
    assert slice_ref.key == "jobs/team/clip/edits/v000001/source.json" and slice_ref.size > 0
    assert editstore.slice_input(store, "team", "clip", "es")  # the source text reaches each language too
    assert main(["edit", *where, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["text"] == "Hello."
