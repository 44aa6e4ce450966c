"""tts (per target language): one clip per translated segment, in the speaker's voice where possible.

Each speaker's reference clips (for voice cloning, XTTS) are cut from that speaker's own
segments in the separated vocals (:mod:`dubbing.stages.speakerrefs`); backends that
cannot clone ignore them.

Backends with stock voices (kokoro, espeak variants, multi-speaker piper) cast one per
speaker, in the order the speakers first speak (``Synthesizer.cast``,
:func:`dubbing.backends.casting.distinct_cast`: distinct speakers, distinct voices), given the
pitch of each speaker's voice where it can be told from their reference clip
(:mod:`dubbing.stages.speakerpitch`), and are told each segment's speaker.

``spec.voices`` (:mod:`.voicemap`): a speaker named ``{voice: ...}`` gets that voice of the
backend; ``{library: id}`` gets a voice of the owner's library, whose reference clip (and XTTS
latents) replace cutting one from this job; the mapping is in the backend options, the library
files among the inputs, so both are in the cache key.  XTTS's conditioning latents of the clips
this job cut are kept as ``latents/<speaker>.pt`` (for saving the voice into the library).

Rate before stretch (:mod:`dubbing.stages.ratefit`): a clip that would overrun the room the
mix's time-fit can give it (its segment, the pause after it, a short lead before it) is read
again faster through the backend's speaking-rate control, at most ``maxRate``; backends
without one (``rate_control`` None) leave the whole fit to the mix's stretch.

When the translation came from the ``llm`` backend (and ``stages.translate.shortenMisfits`` is
on), a second pass runs the time-fit on the clips under the mix's ``maxStretch``; the lines it
cannot place are sent back to the same translator to be shortened (:mod:`.shorten`: within a
bound) and spoken again, and the shorter clip is kept.  ``clips.json`` then gives the line's
first translation as ``longerText``.

Outputs: ``clips/<id>.wav`` (one per segment with text), ``clips.json`` (segment id,
speaker, start, end, text, clip name, clip seconds, the speaking ``rate`` it was read at
(with ``normalSeconds`` when that was not 1.0), and the voice when one was cast; the cast
itself under ``voices``, each speaker's measured ``pitch``, where each voice came from under
``voiceSources``) and ``refs/<speaker>.wav``; the metrics count ``referencesCut`` and
``libraryVoices``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from ..artifacts import sha256_file
from ..backends.base import BackendError, GlossaryTerm, SegmentToTranslate
from ..backends.languages import SOURCE_LANGUAGE_OPTION
from ..segments import Segment, Transcript
from . import clipcache, editstore, pronounce, ratefit, shorten, speakerpitch, timefit, voicemap
from .base import Stage
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .errors import StageFailure
from .media import wav_duration
from .speakerrefs import choose_reference_spans


def read_faster(
    clips: list[dict[str, Any]], duration: float, max_rate: float, speak: Callable[[int, float], float]
) -> int:
    """Read again, faster, each clip that overruns the room the time-fit can give it (the
    :mod:`dubbing.stages.ratefit` choices, in placement order); ``speak(id, rate)`` synthesises
    and returns the new length.  Updates ``seconds``, ``rate`` and ``normalSeconds`` of those
    clips in place; returns how many were read faster."""
    slots = {
        int(c["id"]): timefit.Slot(int(c["id"]), float(c["start"]), float(c["end"]), float(c["seconds"])) for c in clips
    }
    by_id = {int(c["id"]): c for c in clips}
    done: set[int] = set()
    while True:
        # Earlier clips planned as if squeezed into their windows: the mix stretches what is left.
        placements = timefit.plan(list(slots.values()), duration, ratefit.PLANNING_STRETCH)
        pick = ratefit.first_to_speed_up(placements, done, max_rate)
        if pick is None:
            return len(done)
        ident, rate = pick
        done.add(ident)
        placement = next(p for p in placements if p.id == ident)
        target = placement.window_end - placement.window_start
        seconds = speak(ident, rate)
        for _ in range(ratefit.MAX_CORRECTIONS):
            again = ratefit.corrected_rate(rate, seconds, target, max_rate)
            if again is None:
                break
            rate, seconds = again, speak(ident, again)
        clip = by_id[ident]
        clip["normalSeconds"] = clip["seconds"]
        clip["seconds"], clip["rate"] = round(seconds, 4), rate
        slots[ident] = timefit.Slot(ident, slots[ident].start, slots[ident].end, seconds)


def clip_name(segment_id: int) -> str:
    return f"clips/{segment_id:04d}.wav"


def cut_references(vocals: Path, transcript: Transcript, out_dir: Path, skip: Collection[str] = ()) -> dict[str, Path]:
    """One mono WAV per speaker (but those in ``skip``): their chosen spans joined with short pauses
    (only those spans are read)."""
    import numpy as np
    import soundfile as sf

    refs: dict[str, Path] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(str(vocals)) as sound:
        rate = sound.samplerate
        for speaker in sorted({s.speaker for s in transcript.segments} - set(skip)):
            spans = choose_reference_spans(transcript.segments, speaker)
            pieces = []
            gap = np.zeros(int(0.2 * rate), dtype=np.float32)
            for start, end in spans:
                first, last = max(0, int(start * rate)), min(sound.frames, int(end * rate))
                if last <= first:
                    continue
                sound.seek(first)
                piece = sound.read(last - first, dtype="float32", always_2d=True).mean(axis=1)
                if piece.size:
                    pieces.extend([piece, gap])
            if not pieces:
                continue
            path = out_dir / f"{speaker}.wav"
            sf.write(str(path), np.concatenate(pieces), rate, subtype="PCM_16")
            refs[speaker] = path
    return refs


class Tts(Stage):
    name = "tts"
    version = 3  # 3: voiceSources and referencesCut (spec.voices)

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        return {
            "translation.json": ctx.upstream("translate", language)["translation.json"],
            "vocals.wav": ctx.upstream("separate")["vocals.wav"],
            "probe.json": ctx.upstream("extract")["probe.json"],
            **editstore.stage_slice(ctx, str(language)),
            **voicemap.library_inputs(ctx),
        }

    def backend_options(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> dict[str, Any]:
        options = voicemap.backend_options(ctx, str(language))
        hints = pronounce.hints_for(ctx.job.spec.glossary, str(language))
        if hints:
            options[pronounce.OPTION] = hints
        return options

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        language = str(unit.language)
        transcript = editstore.edited_input(ctx, unit.inputs, "translation.json", language)
        # which translator made it, and with what options (for the llm's shortening pass)
        data = json.loads(ctx.fetch(unit.inputs["translation.json"]).read_text(encoding="utf-8"))
        backend = unit.backend
        # Library voices bring their own reference clips: nothing is cut for those speakers.
        library = voicemap.library_refs(ctx, unit.inputs, unit.out_dir / "refs")
        refs: dict[str, Path] = {}
        if {s.speaker for s in transcript.segments} - set(library):
            with unit.step("references"):
                refs = cut_references(
                    ctx.fetch(unit.inputs["vocals.wav"]), transcript, unit.out_dir / "refs", skip=set(library)
                )
        cut = sorted(refs)
        refs.update({speaker: paths[0] for speaker, paths in library.items()})
        pitches = {speaker: speakerpitch.estimate(path) for speaker, path in refs.items()}
        segments = [s for s in transcript.segments if (s.translation or "").strip()]
        (unit.out_dir / "clips").mkdir(exist_ok=True)
        outputs: dict[str, Path] = {f"refs/{speaker}.wav": path for speaker, path in refs.items()}
        clips: list[dict[str, Any]] = []
        # Speakers in the order they first speak: backends with stock voices give each its own,
        # by the pitch of their voice where it could be told.
        speakers = list(dict.fromkeys(s.speaker for s in sorted(segments, key=lambda s: (s.start, s.id))))
        told = {speaker: pitch.register for speaker, pitch in pitches.items() if pitch.register is not None}
        fixed = voicemap.fixed_voices(unit.options, backend.name, language)
        voices = backend.cast(speakers, language, told, fixed)  # type: ignore[attr-defined]

        identity = backend.identity()
        reference_digests = {speaker: sha256_file(path) for speaker, path in refs.items()}
        counts = {"synthesized": 0, "reused": 0}
        # Glossary pronunciation hints: the backend is given the spoken form, the subtitles keep the written;
        # a clip is keyed by what is spoken (a hint for another word leaves its clip reusable).
        hints = list(unit.options.get(pronounce.OPTION, []))
        alphabet = getattr(backend, "phoneme_alphabet", None)
        clip_options = {name: value for name, value in unit.options.items() if name != pronounce.OPTION}

        def speak(segment: Segment, rate: float, text: str | None = None) -> float:
            path = unit.out_dir / clip_name(segment.id)
            words = pronounce.spoken_text(text if text is not None else segment.translation or "", hints, alphabet)[0]
            key = clipcache.segment_key(
                identity, clip_options, language, words, segment.speaker,
                voices.get(segment.speaker), reference_digests.get(segment.speaker), rate,
            )  # fmt: skip
            stored = clipcache.lookup(ctx.store, key, path)
            if stored is not None:
                counts["reused"] += 1
                return stored
            seconds = synthesize(words, segment, rate, path)
            clipcache.remember(ctx.store, key, path, seconds)
            counts["synthesized"] += 1
            return seconds

        latents = voicemap.export_latents(backend, refs, cut, unit.out_dir / "latents")
        outputs.update({f"latents/{speaker}.pt": path for speaker, path in latents.items()})

        def synthesize(words: str, segment: Segment, rate: float, path: Path) -> float:
            speaker_refs = library.get(segment.speaker) or ([refs[segment.speaker]] if segment.speaker in refs else [])
            options: dict[str, Any] = {"speaker": segment.speaker}
            if rate != 1.0:
                options["rate"] = rate
            seconds = float(backend.synthesize(words, language, speaker_refs, path, **options))  # type: ignore[attr-defined]
            if not path.is_file() or path.stat().st_size == 0:
                raise StageFailure("SynthesisFailed", f"{backend.name} wrote no audio for segment {segment.id}")
            return seconds or wav_duration(path)

        with unit.step("synthesize"):
            for number, segment in enumerate(segments, start=1):
                name = clip_name(segment.id)
                outputs[name] = unit.out_dir / name
                clip: dict[str, Any] = {
                    "id": segment.id, "speaker": segment.speaker, "start": segment.start, "end": segment.end,
                    "text": segment.translation, "clip": name, "seconds": round(speak(segment, 1.0), 4), "rate": 1.0,
                }  # fmt: skip
                if segment.speaker in voices:
                    clip["voice"] = voices[segment.speaker]
                clips.append(clip)
                unit.progress.update(90.0 * number / max(1, len(segments)), f"segment {number}/{len(segments)}")
        # An llm translation may first say a misfit in fewer words; what still overruns is read faster.
        second_pass = self.shorten_misfits(ctx, unit, data, transcript, clips, language, outputs, refs)
        max_rate = float(unit.options.get("maxRate", ratefit.DEFAULT_MAX_RATE))
        control = getattr(backend, "rate_control", None)
        faster = 0
        if control is not None and max_rate > 1.0 and clips:
            probe = json.loads(ctx.fetch(unit.inputs["probe.json"]).read_text(encoding="utf-8"))
            by_id = {segment.id: segment for segment in segments}
            text_now = {int(clip["id"]): str(clip["text"]) for clip in clips}  # the shorter text where kept
            with unit.step("rate"):
                faster = read_faster(
                    clips,
                    float(probe["duration"]),
                    max_rate,
                    lambda ident, rate: speak(by_id[ident], rate, text_now[int(ident)]),
                )
        total = sum(float(clip["seconds"]) for clip in clips)
        index: dict[str, Any] = {"language": language, "backend": backend.name, "clips": clips}
        if voices:
            index["voices"] = voices
        if pitches:
            index["pitch"] = {speaker: pitch.as_dict() for speaker, pitch in pitches.items()}
        index["voiceSources"] = voicemap.voice_sources(speakers, unit.options, cut, voices)
        index["rate"] = {"control": control, "maxRate": max_rate}
        said = pronounce.mark_spoken(clips, hints, alphabet)  # after the second pass: the texts kept
        if hints:
            index["pronunciation"] = {"alphabet": alphabet, "hints": hints}
        (unit.out_dir / "clips.json").write_text(
            json.dumps(index, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        outputs["clips.json"] = unit.out_dir / "clips.json"
        synth = unit.steps.get("synthesize", 0.0)
        return UnitResult(
            outputs=outputs,
            metrics={
                "segments": len(clips),
                "speakers": len(refs),
                "referencesCut": len(cut),
                "libraryVoices": len(library),
                "voices": len(set(voices.values())),
                "fasterReadings": faster,
                "synthesizedClips": counts["synthesized"],
                "reusedClips": counts["reused"],
                "rateControl": control,
                "maxRateUsed": max((float(clip["rate"]) for clip in clips), default=1.0),
                "speechSeconds": round(total, 3),
                "realTimeFactor": round(synth / total, 4) if total else None,
                "clonedVoices": bool(refs)
                and bool(unit.backend.identity().get("cloning", unit.backend.name == "xtts")),
                **({"shortening": second_pass} if second_pass else {}),
                **({"pronunciation": {"hints": len(hints), "alphabet": alphabet, "applied": said}} if hints else {}),
            },
        )

    def shorten_misfits(
        self,
        ctx: StageContext,
        unit: Unit,
        translation: Mapping[str, Any],
        transcript: Transcript,
        clips: list[dict[str, Any]],
        language: str,
        outputs: dict[str, Path],
        refs: Mapping[str, Path],
    ) -> dict[str, Any] | None:
        """The second pass (see the module's doc); what it did, or None when it does not apply."""
        translator = translation.get("translator") or {}
        options = dict(translator.get("options") or {})
        if translator.get("backend") != "llm" or not options.get("shortenMisfits", True) or not clips:
            return None
        max_stretch = float(ctx.options("mix").get("maxStretch", 1.25))
        media_end = transcript.duration or max(float(clip["end"]) for clip in clips)
        slots = [timefit.Slot(int(c["id"]), float(c["start"]), float(c["end"]), float(c["seconds"])) for c in clips]
        found = shorten.misfits(timefit.plan(slots, media_end, max_stretch))
        report: dict[str, Any] = {"misfits": len(found), "shortened": 0, "kept": 0}
        if not found:
            return report
        by_id = {int(clip["id"]): clip for clip in clips}
        segments = {segment.id: segment for segment in transcript.segments}
        items = []
        for misfit in found:
            clip, segment = by_id[misfit.id], segments[misfit.id]
            budget = shorten.shorter_budget(len(str(clip["text"])), misfit)
            items.append(
                (
                    SegmentToTranslate(segment.id, segment.text, segment.speaker, segment.start, segment.end, budget),
                    str(clip["text"]),
                )
            )
        glossary = [GlossaryTerm(item["source"], item.get("target")) for item in options.get("glossary", [])]
        try:
            llm = ctx.backend("translate", "llm", options)
            before = llm.usage()  # type: ignore[attr-defined]
            with unit.step("shorten"):
                shorter = llm.shorten(items, options[SOURCE_LANGUAGE_OPTION], language, glossary)  # type: ignore[attr-defined]
        except (BackendError, StageFailure) as error:
            # The dub is whole without the second pass: say why it did not run, and go on.
            report["error"] = str(error)
            return report
        after = llm.usage()  # type: ignore[attr-defined]
        # This pass's own share (the translator may be the one the translate stage used in this process).
        report["llm"] = {
            name: value - before.get(name, 0) if isinstance(value, int) and not isinstance(value, bool) else value
            for name, value in after.items()
        }
        report["unanswered"] = len(items) - len(shorter)
        with unit.step("resynthesize"):
            for ident, text in shorter.items():
                clip = by_id[ident]
                trial = unit.out_dir / f"clips/{ident:04d}.shorter.wav"
                hints = list(unit.options.get(pronounce.OPTION, []))
                alphabet = getattr(unit.backend, "phoneme_alphabet", None)
                seconds = float(
                    unit.backend.synthesize(  # type: ignore[attr-defined]
                        pronounce.spoken_text(text, hints, alphabet)[0],
                        language,
                        [refs[clip["speaker"]]] if clip["speaker"] in refs else [],
                        trial,
                        speaker=clip["speaker"],
                    )
                    or wav_duration(trial)
                )
                if seconds < float(clip["seconds"]):
                    trial.replace(outputs[clip["clip"]])
                    clip["longerText"], clip["text"], clip["seconds"] = clip["text"], text, round(seconds, 4)
                    report["shortened"] += 1
                else:
                    trial.unlink(missing_ok=True)
                    report["kept"] += 1
        return report


STAGE = Tts
