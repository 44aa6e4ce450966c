"""The segment editor's pure decisions: form changes, the review pause, the approve patch, the audio span."""

from __future__ import annotations

import pytest

from dubbing.edits import EditsError
from dubbing_webui.segment_forms import (
    MAX_CLIP_S,
    approve_patch,
    changes_from_form,
    clip_span,
    paused_stage,
    speakers_of,
)

ROWS = [
    {
        "id": 0,
        "start": 0.5,
        "end": 2.0,
        "speaker": "S1",
        "text": "Hello.",
        "translations": {"pt": "Olá."},
        "locked": False,
    },
    {
        "id": 1,
        "start": 2.5,
        "end": 4.0,
        "speaker": "S0",
        "text": "Bye.",
        "translations": {"pt": "Tchau."},
        "locked": True,
    },
]


def shown(**fields):
    return {"shown-0": "1", "shown-1": "1", "locked-1": "on", **fields}


def test_only_what_differs_from_the_page_becomes_an_edit():
    assert speakers_of(ROWS) == ["S1", "S0"]
    same = shown(**{"text-0": "Hello. ", "tr-0-pt": "Olá.", "speaker-0": "S1", "text-1": "Bye.", "tr-1-pt": "Tchau."})
    assert changes_from_form(ROWS, same, ["S1", "S0"]).is_empty()
    changed = changes_from_form(
        ROWS, {"shown-0": "1", "shown-1": "1", "tr-0-pt": "Oi!", "speaker-0": "S0", "locked-0": "on"}, ["S1", "S0"]
    )
    assert changed.segments[0].translations == {"pt": "Oi!"} and changed.segments[0].speaker == "S0"
    assert changed.segments[0].locked and changed.segments[1].model_dump(exclude_unset=True) == {"locked": False}


def test_unknown_segments_and_speakers_are_refused_with_every_reason():
    with pytest.raises(EditsError) as caught:
        changes_from_form(ROWS, shown(**{"shown-7": "1", "shown-x": "1", "speaker-0": "S9"}), ["S1", "S0"])
    assert caught.value.reasons == [
        "shown-7: no such segment (reload the page: the segments changed)",
        "shown-x: no such segment (reload the page: the segments changed)",
        "segment 0: 'S9' is not one of the job's speakers (S1, S0)",
    ]
    with pytest.raises(EditsError, match="segment 0: text: String should have at most 2000 characters"):
        changes_from_form(ROWS, shown(**{"text-0": "x" * 2001}), ["S1", "S0"])


def job(phase, after=("translate",), approved=(), done=("asr", "translate")):
    return {
        "metadata": {"resourceVersion": "42"},
        "spec": {"review": {"after": list(after), "approved": list(approved)}},
        "status": {"phase": phase, "stages": [{"name": s, "phase": "Succeeded"} for s in done]},
    }


def test_the_pause_and_its_approval():
    assert paused_stage(job("AwaitingReview")) == "translate"
    assert paused_stage(job("Running")) is None
    assert paused_stage(job("AwaitingReview", after=("asr", "translate"), approved=("asr",))) == "translate"
    assert paused_stage(job("AwaitingReview", approved=("translate",))) is None
    assert approve_patch(job("AwaitingReview", after=("asr", "translate"), approved=("asr",)), "translate") == {
        "metadata": {"resourceVersion": "42"},
        "spec": {"review": {"after": ["asr", "translate"], "approved": ["asr", "translate"]}},
    }


def test_the_audio_span_is_inside_the_media_and_bounded():
    assert clip_span(1.0, 2.5, 10.0) == (1.0, 1.5)
    assert clip_span(9.0, 12.0, 10.0) == (9.0, 1.0)
    assert clip_span(0.0, 500.0, None) == (0.0, MAX_CLIP_S)
    with pytest.raises(EditsError, match="holds no audio"):
        clip_span(11.0, 12.0, 10.0)
