"""The segment edits model: parsing, checks against a transcript, applying, slices (pure)."""

from __future__ import annotations

import pytest

from dubbing.edits import (
    MAX_EDITED_SEGMENTS,
    EditsError,
    apply_to_transcript,
    check_against,
    language_slice,
    merged,
    parse_document,
    slice_json,
    source_slice,
    validate,
)
from dubbing.segments import Segment, Transcript, Word

TRANSCRIPT = Transcript(
    "en",
    (
        Segment(0, 0.5, 2.0, "Hello there.", "S0", (Word(0.5, 1.0, "Hello"),), "Olá."),
        Segment(1, 2.5, 4.0, "How are you?", "S1", (), "Como vai?"),
        Segment(2, 4.5, 6.0, "Fine.", "S0", (), "Bem."),
    ),
    duration=7.0,
)


def doc(segments):
    return parse_document({"segments": segments})


def test_apply_changes_only_the_named_fields_and_language():
    document = doc({"1": {"translations": {"pt-BR": "Tudo bem?", "es": "¿Qué tal?"}, "speaker": "S0"}})
    pt = apply_to_transcript(TRANSCRIPT, document, "pt-BR")
    assert pt.segments[1].translation == "Tudo bem?" and pt.segments[1].speaker == "S0"
    assert pt.segments[1].text == "How are you?"
    assert pt.segments[0] == TRANSCRIPT.segments[0] and pt.segments[2] == TRANSCRIPT.segments[2]
    source = apply_to_transcript(TRANSCRIPT, document)
    assert source.segments[1].translation == "Como vai?"  # no language: translations untouched
    text = apply_to_transcript(TRANSCRIPT, doc({"0": {"text": "Hi there."}}))
    assert text.segments[0].text == "Hi there." and text.segments[0].words == ()


def test_slices_hold_only_what_a_stage_can_see():
    document = doc({"1": {"translations": {"pt-BR": "Tudo bem?", "es": "¿Qué tal?"}}, "2": {"text": "Great."}})
    assert source_slice(document).segments.keys() == {2}
    pt = language_slice(document, "pt-BR")
    assert pt.segments[1].translations == {"pt-BR": "Tudo bem?"} and pt.segments[2].text == "Great."
    # an edit of another language leaves this language's slice as it was
    other = doc({"1": {"translations": {"es": "¿Cómo estás?"}}, "2": {"text": "Great."}})
    assert slice_json(language_slice(other, "pt-BR")) == slice_json(
        language_slice(doc({"2": {"text": "Great."}}), "pt-BR")
    )
    assert slice_json(source_slice(other)) == slice_json(source_slice(document))
    assert slice_json(language_slice(other, "pt-BR")) != slice_json(pt)


def test_merge_lays_changes_over_per_field():
    base = doc({"1": {"translations": {"pt-BR": "A"}, "speaker": "S0"}})
    result = merged(base, doc({"1": {"translations": {"es": "B"}}, "2": {"locked": True}}))
    assert result.segments[1].translations == {"pt-BR": "A", "es": "B"} and result.segments[1].speaker == "S0"
    assert result.segments[2].locked is True


@pytest.mark.parametrize(
    ("segments", "reason"),
    [
        ({"9": {"text": "x"}}, "segment 9: no such segment (ids 0-2)"),
        ({"1": {"text": "   "}}, "segment 1: the source text is empty"),
        ({"1": {"translations": {"pt-BR": ""}}}, "segment 1: the pt-BR translation is empty"),
        ({"1": {"translations": {"de": "Wie geht's?"}}}, "segment 1: 'de' is not a target language of the job"),
        ({"1": {"start": 1.5}}, "segments 0 and 1 overlap (0.5-2 s and 1.5-4 s)"),
        ({"2": {"start": 5.0, "end": 4.9}}, "segment 2: ends (4.9 s) before it starts (5 s)"),
        ({"2": {"end": 8.0}}, "segment 2: ends after the media (7 s)"),
    ],
)
def test_bad_edits_are_refused_with_the_reason(segments, reason):
    document = doc(segments)
    assert reason in check_against(document, TRANSCRIPT, ["pt-BR", "es"])
    with pytest.raises(EditsError, match="segment"):
        validate(document, TRANSCRIPT, ["pt-BR", "es"])


def test_malformed_documents_are_refused_readably():
    with pytest.raises(EditsError, match="segments.1.speaker"):
        parse_document({"segments": {"1": {"speaker": "two words"}}})
    with pytest.raises(EditsError, match="segments.1.colour: Extra inputs"):
        parse_document({"segments": {"1": {"colour": "red"}}})
    with pytest.raises(EditsError, match="segments.x"):
        parse_document({"segments": {"x": {"text": "hi"}}})
    with pytest.raises(EditsError, match="apiVersion"):
        parse_document({"apiVersion": "v0", "segments": {}})
    with pytest.raises(EditsError, match="JSON object"):
        parse_document(["segments"])
    with pytest.raises(EditsError, match=f"at most {MAX_EDITED_SEGMENTS}"):
        parse_document({"segments": {str(i): {"locked": True} for i in range(MAX_EDITED_SEGMENTS + 1)}})
    with pytest.raises(EditsError, match="at most 2000 characters"):
        parse_document({"segments": {"1": {"text": "x" * 2001}}})


def test_every_reason_is_reported_at_once():
    reasons = check_against(doc({"1": {"text": ""}, "7": {"text": "x"}}), TRANSCRIPT, ["pt-BR"])
    assert len(reasons) == 2


def test_locking_writes_in_every_current_value_and_keeps_explicit_ones():
    from dubbing.edits import pin_locked

    translations = {
        "pt-BR": TRANSCRIPT,
        "es": Transcript("en", (Segment(1, 2.5, 4.0, "How are you?", "S1", (), "¿Qué tal?"),)),
    }
    pinned = pin_locked(
        doc({"1": {"locked": True, "translations": {"pt-BR": "Tudo bem?"}}, "2": {"text": "Ok."}}),
        TRANSCRIPT,
        translations,
    )
    one = pinned.segments[1]
    assert (one.text, one.speaker, one.start, one.end) == (None, "S1", 2.5, 4.0)
    assert one.translations == {"pt-BR": "Tudo bem?", "es": "¿Qué tal?"}
    assert pinned.segments[2] == doc({"2": {"text": "Ok."}}).segments[2]  # not locked: as it was
