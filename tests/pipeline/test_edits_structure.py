"""Merged and split segments through the real stage runtime (model backends are the doubles of
tests/pipeline/doubles.py; extract, mix and mux are the real thing): translate, tts and mux
all see the same segments."""

from __future__ import annotations

import re

import pytest

from dubbing.artifacts import LocalStore
from dubbing.edits import EditsDocument, apply_to_transcript, with_merge, with_split
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


def cues(srt: str) -> list[str]:
    """The text of each cue of an SRT file."""
    blocks = [b for b in re.split(r"\n\s*\n", srt.strip()) if b.strip()]
    return [" ".join(b.splitlines()[2:]) for b in blocks]


def test_merge_and_split_reach_translate_tts_and_mux(tmp_path, short_clip, fakes):
    store = LocalStore(tmp_path / "store")
    job = make_job(short_clip.path, ["pt-BR"], "en", {"separate": {"backend": "none"}}, name="st")
    run_pipeline(job, store, short_clip.path, tmp_path / "out1", sink=quiet)
    transcript, translations = editstore.job_segments(store, "local", "st")
    raw = transcript.segments
    assert len(raw) >= 3 and len(raw[2].text.split()) >= 2, raw

    document = with_merge(EditsDocument(), transcript, translations, raw[0].id, raw[1].id)
    middle = round((raw[2].start + raw[2].end) / 2, 2)
    document = with_split(document, transcript, translations, raw[2].id, middle)
    saved = editstore.save(
        store, "local", "st", document, transcript, ["pt-BR"], replace_all=True, translations=translations
    )
    merged_id = saved.structure[0].into
    split_ids = saved.structure[1].into
    assert merged_id > max(s.id for s in raw) and min(split_ids) > merged_id  # fresh, unambiguous ids
    expected = apply_to_transcript(transcript, saved)
    expected_ids = [s.id for s in expected.segments]
    assert expected_ids[:3] == [merged_id, *split_ids] and len(expected_ids) == len(raw) + 0  # -1 +1

    second = {o.stage: o for o in run_pipeline(job, store, short_clip.path, tmp_path / "out2", sink=quiet).outcomes}
    assert second["asr"].cache_hit and second["diarize"].cache_hit
    assert not second["translate"].cache_hit  # the source's segments changed
    translation = Transcript.from_dict(
        store.get_json(second["translate"].index["entries"]["pt-BR"]["outputs"]["translation.json"]["key"])
    )
    assert [s.id for s in translation.segments] == expected_ids
    assert [(s.start, s.end) for s in translation.segments] == [(s.start, s.end) for s in expected.segments]
    tts = store.get_json(second["tts"].index["entries"]["pt-BR"]["manifest"])
    clips = store.get_json(tts["outputs"]["clips.json"]["key"])["clips"]
    assert sorted(c["id"] for c in clips) == sorted(expected_ids)
    by_id = {c["id"]: c for c in clips}
    old = {s.id: s.translation for s in translations["pt-BR"].segments}
    assert by_id[merged_id]["text"] == f"{old[raw[0].id]} {old[raw[1].id]}"  # the translations, joined
    assert " ".join(by_id[i]["text"] for i in split_ids) == old[raw[2].id]  # shared out
    assert tts["metrics"]["synthesizedClips"] == 3  # the merged segment and the two pieces
    assert tts["metrics"]["reusedClips"] == len(expected_ids) - 3
    # mux: both subtitle files have the new segments, in the same times
    dubbed = cues((tmp_path / "out2" / "st.pt-BR.srt").read_text(encoding="utf-8"))
    source = cues((tmp_path / "out2" / "st.en.srt").read_text(encoding="utf-8"))
    assert len(dubbed) == len(source) == len(expected_ids)
    assert dubbed[0] == by_id[merged_id]["text"] and source[0] == f"{raw[0].text} {raw[1].text}"
    assert layout.job_edits_key("local", "st", 1) in {i.key for i in store.list("jobs/local/st/edits/")}
