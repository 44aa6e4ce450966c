"""Voices per speaker, pure and on a local store: casting, the cleanest spans, the library, the checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pydantic import ValidationError

from dubbing.api.v1alpha1 import MAX_VOICE_MAPPINGS, OWNER_LABEL, DubbingJob, DubbingJobSpec
from dubbing.artifacts import LocalStore
from dubbing.backends import casting
from dubbing.backends.tts_espeak import unknown_variants
from dubbing.segments import Segment, Word
from dubbing.stages import voicemap
from dubbing.voices import check, library, refspans

ORDER = ("f1", "m1", "f2", "m2")
REGISTERS = {"high": ("f1", "f2"), "low": ("m1", "m2")}


# --- casting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", range(1, 9))
def test_distinct_speakers_get_distinct_voices_while_voices_last(count: int) -> None:
    speakers = [f"S{i}" for i in range(count)]
    cast = casting.distinct_cast(speakers, ORDER)
    assert set(cast) == set(speakers)
    assert len(set(cast.values())) == min(count, len(ORDER))
    uses = [list(cast.values()).count(voice) for voice in ORDER]
    assert max(uses) - min(uses) <= 1  # given again evenly once every voice is taken


def test_named_voices_are_kept_and_taken_before_the_others() -> None:
    cast = casting.distinct_cast(["S0", "S1", "S2"], ORDER, fixed={"S1": "f1"})
    assert cast == {"S1": "f1", "S0": "m1", "S2": "f2"}
    # a named voice outside the order is kept as it stands; the others still differ from each other
    cast = casting.distinct_cast(["S0", "S1"], ORDER, fixed={"S0": "custom"})
    assert cast == {"S0": "custom", "S1": "f1"}
    # a named speaker who does not speak is still in the cast (the stage reports it)
    assert casting.distinct_cast([], ORDER, fixed={"S9": "m2"}) == {"S9": "m2"}


def test_registers_are_preferred_while_they_have_unused_voices() -> None:
    cast = casting.distinct_cast(["S0", "S1", "S2"], ORDER, pitches={"S0": "low", "S1": "low"}, registers=REGISTERS)
    assert cast == {"S0": "m1", "S1": "m2", "S2": "f1"}
    cast = casting.distinct_cast(["S0", "S1"], ORDER, fixed={"S0": "m1"}, pitches={"S1": "low"}, registers=REGISTERS)
    assert cast == {"S0": "m1", "S1": "m2"}


def test_casting_with_no_voices_is_refused_unless_everyone_is_named() -> None:
    with pytest.raises(ValueError, match="no voices"):
        casting.distinct_cast(["S0"], ())
    assert casting.distinct_cast(["S0"], (), fixed={"S0": "x"}) == {"S0": "x"}


def test_espeak_variants_from_its_listing_and_the_cast_order() -> None:
    listing = (
        "Pty Language       Age/Gender VoiceName          File                 Other Languages\n"
        " 5  variant         --/M      Adam               !v/adam\n"
        " 5  variant         --/F      female3            !v/f3\n"
        " 5  variant         --/M      male1              !v/m1\n"
        " 5  variant         --/F      female1            !v/f1\n"
    )
    installed = casting.espeak_variants(listing)
    assert installed == {"adam", "f3", "m1", "f1"}
    assert casting.espeak_order(installed) == ("f3", "m1", "f1")
    assert unknown_variants(["f3", "pt-br+m1", "nosuch", "f3"], installed) == ["nosuch"]


def test_piper_speakers_by_id_and_single_speaker_voices() -> None:
    assert casting.piper_speakers({"speaker_id_map": {"b": 1, "a": 0, "c": 2}}) == ("a", "b", "c")
    assert casting.piper_speakers({"speaker_id_map": {"only": 0}}) == ()
    assert casting.piper_speakers({"num_speakers": 1}) == ()
    cast = casting.distinct_cast(["S0", "S1"], casting.piper_speakers({"speaker_id_map": {"p1": 0, "p2": 1}}))
    assert cast == {"S0": "p1", "S1": "p2"}


def test_named_voices_from_the_options() -> None:
    options = {"voices": {"S0": {"voice": "pf_dora"}, "S1": {"library": "v-1"}, "S2": {"clone": True}}}
    assert casting.named_voices(options) == {"S0": "pf_dora"}
    assert casting.named_voices({}) == {}


# --- the mapping in the API -------------------------------------------------------------------

BASE = {"input": {"bucket": "abc", "key": "k"}, "targetLanguages": ["pt-BR"]}


@pytest.mark.parametrize(
    "voices",
    [
        {"S0": {}},
        {"S0": {"voice": "a", "library": "v-abc"}},
        {"S0": {"clone": False}},
        {"S0": {"voice": "no spaces"}},
        {"S0": {"library": "../etc"}},
        {"bad label": {"voice": "x"}},
        {f"S{i}": {"voice": "x"} for i in range(MAX_VOICE_MAPPINGS + 1)},
    ],
)
def test_bad_voice_mappings_are_refused(voices: dict) -> None:
    with pytest.raises(ValidationError):
        DubbingJobSpec.model_validate({**BASE, "voices": voices})


def test_the_mapping_is_in_the_tts_options_and_so_in_its_cache_key() -> None:
    spec = DubbingJobSpec.model_validate({**BASE, "voices": {"S1": {"voice": "pm_alex"}, "S0": {"clone": True}}})
    options = check.tts_options(spec, "pt-BR")
    assert options["voices"] == {"S0": {"clone": True}, "S1": {"voice": "pm_alex"}}
    assert "voices" not in check.tts_options(DubbingJobSpec.model_validate(BASE), "pt-BR")


# --- the cleanest spans -----------------------------------------------------------------------


def seg(ident: int, start: float, end: float, speaker: str, probability: float | None) -> Segment:
    words = (Word(start, end, "word", probability),) if probability is not None else ()
    return Segment(ident, start, end, "text", speaker, words)


def test_cleanest_spans_take_the_most_confident_speech_first_within_the_bound() -> None:
    segments = [
        seg(0, 0.0, 6.0, "S0", 0.40),
        seg(1, 7.0, 12.0, "S0", 0.95),
        seg(2, 13.0, 20.0, "S1", 0.99),
        seg(3, 21.0, 29.0, "S0", 0.90),
        seg(4, 30.0, 30.5, "S0", 1.00),  # too short
    ]
    spans = refspans.cleanest_spans(segments, "S0", max_total=12.0)
    assert [span.segment for span in spans] == [1, 3]  # time order; the 0.40 one left out
    assert sum(span.end - span.start for span in spans) == pytest.approx(12.0)
    assert spans[1].end - spans[1].start == pytest.approx(7.0)  # cut to what the bound leaves
    assert refspans.cleanest_spans(segments, "S9") == []
    assert refspans.confidence(seg(9, 0, 1, "S0", None)) == refspans.UNKNOWN_CONFIDENCE


# --- the library on a local store ---------------------------------------------------------------


def wav(path: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.2 * np.sin(2 * np.pi * 150 * t)).astype(np.float32), rate)
    return path


def test_library_save_list_rename_delete_and_another_users_id(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    alice, bob = library.VoiceLibrary(store, "alice"), library.VoiceLibrary(store, "bob")
    ref = wav(tmp_path / "ref.wav")
    voice = alice.save("Narrator", "recorded with consent, 2026-12-01", ref, {"speaker": "S0"})
    assert voice.id.startswith("v-") and store.exists(f"voices/alice/{voice.id}/meta.json")
    assert [v.id for v in alice.list()] == [voice.id] and bob.list() == []
    assert alice.rename(voice.id, "Host").name == "Host" and alice.get(voice.id).name == "Host"
    with pytest.raises(library.VoiceError) as refused:
        bob.get(voice.id)
    assert refused.value.reason == "VoiceOfAnotherUser" and refused.value.http_status == 403
    for action in (lambda: bob.rename(voice.id, "mine"), lambda: bob.delete(voice.id)):
        with pytest.raises(library.VoiceError, match="another user"):
            action()
    assert alice.get(voice.id).name == "Host"  # nothing applied
    with pytest.raises(library.VoiceError) as refused:
        alice.get("v-0000000000000000")
    assert refused.value.reason == "VoiceNotFound"
    alice.delete(voice.id)
    assert alice.list() == [] and not list(store.list("voices/")) and not list(store.list("voice-ids/"))


@pytest.mark.parametrize(
    ("name", "consent", "why"),
    [("", "ok", "name"), ("x" * 81, "ok", "name"), ("ok", "", "consent"), ("ok", "y" * 1001, "consent")],
)
def test_library_refuses_bad_names_and_consent_notes_writing_nothing(tmp_path, name, consent, why) -> None:
    store = LocalStore(tmp_path / "store")
    with pytest.raises(library.VoiceError, match=why):
        library.VoiceLibrary(store, "alice").save(name, consent, wav(tmp_path / "r.wav"), {})
    assert not list(store.list(""))


def test_library_is_bounded_per_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(library, "MAX_VOICES", 2)
    store = LocalStore(tmp_path / "store")
    alice = library.VoiceLibrary(store, "alice")
    ref = wav(tmp_path / "r.wav")
    alice.save("a", "ok", ref, {})
    alice.save("b", "ok", ref, {})
    with pytest.raises(library.VoiceError) as refused:
        alice.save("c", "ok", ref, {})
    assert refused.value.reason == "VoiceLibraryFull" and len(alice.list()) == 2
    for bad in ("../x", "a/b", ""):
        with pytest.raises(library.VoiceError):
            library.VoiceLibrary(store, bad)


def job_with(voices: dict, owner: str = "bob") -> DubbingJob:
    return DubbingJob.model_validate(
        {
            "apiVersion": "dubbing.dev/v1alpha1",
            "kind": "DubbingJob",
            "metadata": {"name": "j", "namespace": "ns", "labels": {OWNER_LABEL: owner}},
            "spec": {**BASE, "voices": voices},
        }
    )


def test_a_job_naming_another_users_voice_is_refused_with_the_reason(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    voice = library.VoiceLibrary(store, "alice").save("A", "ok", wav(tmp_path / "r.wav"), {"speaker": "S0"})
    with pytest.raises(library.VoiceError, match="belongs to another user"):
        check.resolve_library(store, job_with({"S0": {"library": voice.id}}))
    resolved = check.resolve_library(store, job_with({"S0": {"library": voice.id}}, owner="alice"))
    assert resolved["S0"].id == voice.id
    option = check.library_option(resolved)
    assert option["S0"]["files"]["ref.wav"]["sha256"] == voice.meta["files"]["ref.wav"]["sha256"]


def test_fixed_voices_and_voice_sources() -> None:
    options = {
        "voices": {"S0": {"voice": "pf_dora"}, "S1": {"library": "v-1"}},
        check.LIBRARY_OPTION: {"S1": {"id": "v-1", "name": "Host", "stockVoices": {"kokoro": {"pt-BR": "pm_alex"}}}},
    }
    assert voicemap.fixed_voices(options, "kokoro", "pt-BR") == {"S0": "pf_dora", "S1": "pm_alex"}
    assert voicemap.fixed_voices(options, "kokoro", "es") == {"S0": "pf_dora"}
    sources = voicemap.voice_sources(["S0", "S1", "S2"], options, ["S2"], {"S0": "pf_dora", "S1": "pm_alex"})
    assert sources == {
        "S0": {"source": "named", "voice": "pf_dora", "cut": False},
        "S1": {"source": "library", "id": "v-1", "name": "Host", "voice": "pm_alex", "cut": False},
        "S2": {"source": "clone", "cut": True},
    }
    json.dumps(sources)


def test_a_deleted_accounts_library_goes_with_it(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    alice, bob = library.VoiceLibrary(store, "alice"), library.VoiceLibrary(store, "bob")
    ref = wav(tmp_path / "ref.wav")
    kept = bob.save("B", "ok", ref, {})
    for name in ("A1", "A2"):
        alice.save(name, "ok", ref, {})
    store.put_bytes("voices/alice/v-leftover0000000/ref.wav", b"half saved")
    assert alice.delete_all() == 2
    assert not list(store.list("voices/alice/")) and [v.id for v in bob.list()] == [kept.id]
    assert [info.key for info in store.list("voice-ids/")] == [f"voice-ids/{kept.id}.json"]
