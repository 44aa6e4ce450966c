"""The translate and tts stages with a glossary, on the short clip with the doubles (a sentence
translator that knows nothing of glossaries, a synthesizer that records what it is given).

Shown: the stage protects the terms through the translator and records them in the manifest; the
tts is given the respelling while clips.json keeps the written form; a new hint for one word
re-synthesises only the clips with that word; the glossary is part of both stages' cache keys."""

from __future__ import annotations

import json

from dubbing.api.v1alpha1 import GlossaryEntry, Phonemes
from dubbing.artifacts import LocalStore
from dubbing.backends.base import BackendContext
from dubbing.stages.context import StageContext
from dubbing.stages.pipeline import make_job
from dubbing.stages.runner import run_stage

from . import doubles


def quiet(stage, percent, message):
    pass


def test_glossary_through_translate_and_tts(tmp_path, short_clip, monkeypatch):
    doubles.install(monkeypatch, short_clip)
    store = LocalStore(tmp_path / "store")
    context = BackendContext(model_cache=tmp_path / "models")

    def run(glossary: list[GlossaryEntry], name: str) -> StageContext:
        job = make_job(short_clip.path, ["pt-BR"], "en", {"separate": {"backend": "none"}}, name=name)
        job.spec.glossary = glossary
        ctx = StageContext(job, store, context, sink=quiet, input_path=short_clip.path)
        for stage in ("extract", "separate", "diarize", "asr", "translate", "tts"):
            run_stage(stage, ctx)
        return ctx

    library = GlossaryEntry(
        source="library", target="Mediateca", pronounce="Midiatéca", phonemes=Phonemes(ipa="midʒiaˈtɛka")
    )
    ctx = run([library], "first")
    try:
        translation = json.loads(ctx.fetch(ctx.upstream("translate", "pt-BR")["translation.json"]).read_text())
        lines = [s["translation"] for s in translation["segments"]]
        # the fake translator appends " (pt-BR)": the term went through it as a placeholder and came back
        assert lines[0] == "Good morning, and welcome to our short video about the city Mediateca. (pt-BR)"
        assert sum(line.count("Mediateca") for line in lines) == 2 and "library" not in " ".join(lines)
        index = json.loads(store.get_bytes("jobs/local/first/translate.json"))["entries"]["pt-BR"]
        assert (
            index["metrics"]["glossary"]["applied"] == {"library": 2} and index["metrics"]["glossary"]["misses"] == []
        )
        # the fake synthesizer takes no phonemes: the respelling is what it is given
        spoken = doubles.FakeSynthesizer.texts_seen
        assert sum(text.count("Midiatéca") for text in spoken) == 2 and "Mediateca" not in " ".join(spoken)
        clips = json.loads(ctx.fetch(ctx.upstream("tts", "pt-BR")["clips.json"]).read_text())
        with_term = [c for c in clips["clips"] if "Mediateca" in c["text"]]
        assert len(with_term) == 2 and all(
            c["spoken"] == c["text"].replace("Mediateca", "Midiatéca") for c in with_term
        )
        assert all("spoken" not in c for c in clips["clips"] if c not in with_term)
        tts = json.loads(store.get_bytes("jobs/local/first/tts.json"))["entries"]["pt-BR"]["metrics"]
        assert tts["pronunciation"] == {"hints": 1, "alphabet": None, "applied": {"Mediateca": 2}}
    finally:
        ctx.close()

    # A hint for another word: both stages run again (the glossary is in their keys), but only the
    # clip with that word is synthesised again.
    doubles.FakeSynthesizer.texts_seen = []
    room = GlossaryEntry(source="reading room", pronounce="ríding rum")
    again = run([library, room], "second")
    try:
        translate = json.loads(store.get_bytes("jobs/local/second/translate.json"))
        tts = json.loads(store.get_bytes("jobs/local/second/tts.json"))["entries"]["pt-BR"]
        assert translate["cacheHit"] is False and tts["cacheHit"] is False
        assert tts["metrics"]["synthesizedClips"] == 1 and tts["metrics"]["reusedClips"] == 2
        assert len(doubles.FakeSynthesizer.texts_seen) == 1 and "ríding rum" in doubles.FakeSynthesizer.texts_seen[0]
    finally:
        again.close()
