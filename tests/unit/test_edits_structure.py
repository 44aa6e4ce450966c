"""Merging and splitting segments in the edits document (pure): checks, applying, slices, folding edits."""

from __future__ import annotations

import json

import pytest

from dubbing.edits import (
    EditsError,
    apply_to_transcript,
    check_against,
    fresh_ids,
    language_slice,
    merged,
    parse_document,
    pin_locked,
    slice_json,
    source_slice,
    validate,
    with_merge,
    with_split,
)
from dubbing.segments import Segment, Transcript, Word

WORDS = (Word(0.5, 0.9, " Hello"), Word(1.0, 1.4, " there,"), Word(1.5, 2.0, " friend."))
TRANSCRIPT = Transcript(
    "en",
    (
        Segment(0, 0.5, 2.0, "Hello there, friend.", "S0", WORDS),
        Segment(1, 2.5, 4.0, "How are you today?", "S1"),
        Segment(2, 4.5, 6.0, "Fine.", "S0"),
    ),
    duration=7.0,
)
TRANSLATION = Transcript(
    "en",
    tuple(
        Segment(s.id, s.start, s.end, s.text, s.speaker, s.words, t)
        for s, t in zip(TRANSCRIPT.segments, ["Olá aí, amigo.", "Como vai você hoje?", "Bem."], strict=True)
    ),
    duration=7.0,
)


def doc(data):
    return parse_document(data)


def test_merge_joins_neighbours_under_a_new_id_and_is_idempotent():
    document = doc({"structure": [{"op": "merge", "ids": [1, 0], "into": 3}]})
    assert check_against(document, TRANSCRIPT, ["pt"]) == []
    out = apply_to_transcript(TRANSLATION, document, "pt")
    assert [s.id for s in out.segments] == [3, 2]
    joined = out.segments[0]
    assert (joined.start, joined.end, joined.speaker) == (0.5, 4.0, "S0")
    assert joined.text == "Hello there, friend. How are you today?"
    assert joined.translation == "Olá aí, amigo. Como vai você hoje?"
    assert len(joined.words) == 3
    # tts and mux apply the slice again to a translation that translate made through it: no change
    assert apply_to_transcript(out, document, "pt") == out


def test_split_cuts_by_word_times_or_by_share_of_words_and_is_idempotent():
    document = doc({"structure": [{"op": "split", "id": 0, "at": 1.45, "into": [3, 4]}]})
    assert check_against(document, TRANSCRIPT, ["pt"]) == []
    out = apply_to_transcript(TRANSLATION, document, "pt")
    assert [s.id for s in out.segments] == [3, 4, 1, 2]
    first, second = out.segments[:2]
    assert (first.start, first.end, second.start, second.end) == (0.5, 1.45, 1.45, 2.0)
    assert (first.text, second.text) == ("Hello there,", "friend.")  # by the words' times
    assert [w.word for w in second.words] == [" friend."]
    assert (first.translation, second.translation) == ("Olá aí,", "amigo.")  # by the same share of words
    other = apply_to_transcript(TRANSCRIPT, doc({"structure": [{"op": "split", "id": 1, "at": 3.25, "into": [3, 4]}]}))
    assert [s.text for s in other.segments[1:3]] == ["How are", "you today?"]  # no words: by share
    assert apply_to_transcript(out, document, "pt") == out


def test_chained_operations_apply_in_order_and_edits_name_the_new_segments():
    document = doc(
        {
            "structure": [
                {"op": "split", "id": 1, "at": 3.2, "into": [3, 4]},
                {"op": "merge", "ids": [4, 2], "into": 5},
            ],
            "segments": {"5": {"translations": {"pt": "Você hoje? Bem."}}, "3": {"speaker": "S0"}},
        }
    )
    assert check_against(document, TRANSCRIPT, ["pt"]) == []
    out = apply_to_transcript(TRANSLATION, document, "pt")
    assert [(s.id, s.start, s.end) for s in out.segments] == [(0, 0.5, 2.0), (3, 2.5, 3.2), (5, 3.2, 6.0)]
    assert out.segments[2].translation == "Você hoje? Bem." and out.segments[1].speaker == "S0"
    assert apply_to_transcript(out, document, "pt") == out


def test_bad_operations_are_refused_with_every_reason():
    document = doc(
        {
            "structure": [
                {"op": "merge", "ids": [0, 2], "into": 7},  # not neighbours
                {"op": "merge", "ids": [1, 1], "into": 8},  # itself
                {"op": "merge", "ids": [1, 9], "into": 2},  # unknown 9, id 2 taken
                {"op": "split", "id": 2, "at": 4.55, "into": [10, 11]},  # one word; at within 0.1 s of its start
                {"op": "split", "id": 1, "at": 9.0, "into": [12, 12]},  # outside, same ids
                {"op": "split", "id": 0, "at": 1.0, "into": [13, 14]},
                {"op": "split", "id": 0, "at": 1.2, "into": [15, 16]},  # 0 is gone by now
            ],
            "segments": {"0": {"text": "Hi."}, "1": {"text": "   "}},
        }
    )
    reasons = check_against(document, TRANSCRIPT, ["pt"])
    text = "\n".join(reasons)
    assert "structure[1] merge of 0, 2: segments 0 and 2 are not neighbours" in text
    assert "structure[2] merge of 1, 1: a segment cannot be merged with itself" in text
    assert "structure[3] merge of 1, 9: no segment 9 at this point" in text
    assert "structure[3] merge of 1, 9: the new id 2 is taken" in text
    assert "structure[4] split of 2: 4.55 s is not inside the segment" in text
    assert "structure[5] split of 1: the new ids must differ" in text
    assert "structure[7] split of 0: no segment 0 at this point" in text
    assert "segment 0: it was split into 13 and 14; edit that instead" in text
    assert "segment 1: the source text is empty" in text
    with pytest.raises(EditsError) as caught:
        validate(document, TRANSCRIPT, ["pt"])
    assert caught.value.reasons == reasons
    one_word = doc({"structure": [{"op": "split", "id": 2, "at": 5.0, "into": [3, 4]}]})
    assert check_against(one_word, TRANSCRIPT, []) == [
        "structure[1] split of 2: the segment has fewer than two words to share out"
    ]


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"structure": [{"op": "glue", "ids": [0, 1], "into": 3}]}, "structure.0"),
        ({"structure": [{"op": "merge", "ids": [0], "into": 3}]}, "structure.0.merge.ids"),
        ({"structure": [{"op": "merge", "ids": [0, 1], "into": -1}]}, "structure.0.merge.into"),
        ({"structure": [{"op": "split", "id": 0, "at": "nan", "into": [3, 4]}]}, "structure.0.split.at"),
        ({"structure": [{"op": "split", "id": 0, "at": 1.0, "into": [3, 4], "x": 1}]}, "structure.0.split.x"),
        ({"structure": {"op": "merge"}}, "structure"),
        ({"structure": [{"op": "merge", "ids": [0, 1], "into": 3}] * 1001}, "structure"),
    ],
)
def test_malformed_operations_are_refused_readably(data, fragment):
    with pytest.raises(EditsError) as caught:
        parse_document(data)
    assert any(reason.startswith(fragment) for reason in caught.value.reasons), caught.value.reasons


def test_edits_that_overlap_after_a_split_are_refused():
    document = doc(
        {"structure": [{"op": "split", "id": 1, "at": 3.0, "into": [3, 4]}], "segments": {"3": {"end": 3.5}}}
    )
    assert check_against(document, TRANSCRIPT, []) == ["segments 3 and 4 overlap (2.5-3.5 s and 3-4 s)"]


def test_slices_carry_the_structure_so_translate_tts_and_mux_see_the_same_segments():
    document = doc(
        {
            "structure": [{"op": "merge", "ids": [0, 1], "into": 3}],
            "segments": {"3": {"translations": {"pt": "Oi. Tudo bem?", "es": "Hola."}}},
        }
    )
    source = source_slice(document)
    assert source.structure == document.structure and not source.segments
    pt = language_slice(document, "pt")
    assert pt.structure == document.structure and pt.segments[3].translations == {"pt": "Oi. Tudo bem?"}
    # translate's view, then tts's view of translate's output: the same ids and times
    translated = apply_to_transcript(TRANSCRIPT, source)
    spoken = apply_to_transcript(translated, pt, "pt")
    subtitled = apply_to_transcript(TRANSCRIPT, pt, "pt")
    assert [(s.id, s.start, s.end) for s in spoken.segments] == [(s.id, s.start, s.end) for s in subtitled.segments]
    assert spoken.segments[0].translation == "Oi. Tudo bem?"
    # stable JSON for cache keys: equal content, equal bytes; the structure keeps its order
    again = doc(json.loads(json.dumps(document.model_dump(mode="json"))))
    assert json.dumps(slice_json(language_slice(again, "pt")), sort_keys=True) == json.dumps(
        slice_json(pt), sort_keys=True
    )
    assert slice_json(pt)["structure"] == [{"op": "merge", "ids": [0, 1], "into": 3}]
    assert slice_json(language_slice(document, "es")) != slice_json(pt)


def test_merged_documents_append_operations():
    base = doc({"structure": [{"op": "merge", "ids": [0, 1], "into": 3}]})
    more = doc({"structure": [{"op": "merge", "ids": [3, 2], "into": 4}]})
    both = merged(base, more)
    assert [op.into for op in both.structure] == [3, 4]
    assert check_against(both, TRANSCRIPT, []) == []
    assert [s.id for s in apply_to_transcript(TRANSCRIPT, both).segments] == [4]


def test_fresh_ids_are_above_every_id_ever_seen():
    document = doc({"structure": [{"op": "split", "id": 0, "at": 1.2, "into": [10, 11]}], "segments": {"20": {}}})
    assert fresh_ids(document, TRANSCRIPT, 2) == [21, 22]
    assert fresh_ids(doc({}), TRANSCRIPT, 1) == [3]


def test_with_merge_folds_the_edits_of_both_into_the_new_segment():
    document = doc(
        {
            "segments": {
                "0": {"translations": {"pt": "Oi, amigo."}, "speaker": "S2"},
                "1": {"text": "How are you?", "locked": True},
            }
        }
    )
    after = with_merge(document, TRANSCRIPT, {"pt": TRANSLATION}, 1, 0)
    assert after.structure[-1].model_dump() == {"op": "merge", "ids": (0, 1), "into": 3}
    assert set(after.segments) == {3}
    edit = after.segments[3]
    assert edit.text == "Hello there, friend. How are you?" and edit.locked and edit.speaker == "S2"
    assert edit.translations == {"pt": "Oi, amigo. Como vai você hoje?"}
    assert check_against(after, TRANSCRIPT, ["pt"]) == []
    with pytest.raises(EditsError, match="segment 7: no such segment"):
        with_merge(document, TRANSCRIPT, {"pt": TRANSLATION}, 7, 0)
    not_neighbours = with_merge(doc({}), TRANSCRIPT, {}, 0, 2)
    assert "not neighbours" in check_against(not_neighbours, TRANSCRIPT, [])[0]


def test_with_split_shares_the_edits_out_to_the_pieces():
    document = doc(
        {"segments": {"1": {"text": "How are you now?", "translations": {"pt": "Tudo bem agora?"}, "end": 4.2}}}
    )
    after = with_split(document, TRANSCRIPT, {"pt": TRANSLATION}, 1, 3.25)
    assert after.structure[-1].model_dump() == {"op": "split", "id": 1, "at": 3.25, "into": (3, 4)}
    first, second = after.segments[3], after.segments[4]
    assert (first.text, second.text) == ("How are", "you now?")
    # cut at the same share of the (edited) span: 0.75 of 1.7 s
    assert (first.translations, second.translations) == ({"pt": "Tudo"}, {"pt": "bem agora?"})
    assert first.end is None and second.end == 4.2
    assert check_against(after, TRANSCRIPT, ["pt"]) == []
    out = apply_to_transcript(TRANSLATION, after, "pt")
    assert [(s.id, s.start, s.end, s.translation) for s in out.segments[1:3]] == [
        (3, 2.5, 3.25, "Tudo"),
        (4, 3.25, 4.2, "bem agora?"),
    ]
    with pytest.raises(EditsError, match="split: at"):
        with_split(doc({}), TRANSCRIPT, {}, 1, float("nan"))
    outside = with_split(doc({}), TRANSCRIPT, {}, 1, 5.0)
    assert "is not inside the segment" in check_against(outside, TRANSCRIPT, [])[0]


def test_locked_segments_made_by_a_merge_are_pinned():
    document = doc({"structure": [{"op": "merge", "ids": [0, 1], "into": 3}], "segments": {"3": {"locked": True}}})
    pinned = pin_locked(document, TRANSCRIPT, {})
    assert (pinned.segments[3].start, pinned.segments[3].end, pinned.segments[3].speaker) == (0.5, 4.0, "S0")


def test_translations_made_by_translate_are_kept_through_a_merge_or_a_split():
    merged_doc = with_merge(doc({}), TRANSCRIPT, {"pt": TRANSLATION}, 1, 2)
    assert merged_doc.segments[3].translations == {"pt": "Como vai você hoje? Bem."}
    assert merged_doc.segments[3].text is None  # the source text was not edited: the merge joins it
    split_doc = with_split(doc({}), TRANSCRIPT, {"pt": TRANSLATION}, 1, 3.25)
    assert (split_doc.segments[3].translations, split_doc.segments[4].translations) == (
        {"pt": "Como vai"},
        {"pt": "você hoje?"},
    )
    assert with_merge(doc({}), TRANSCRIPT, {}, 1, 2).segments == {}  # before translate: nothing to keep
