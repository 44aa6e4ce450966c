"""tts (per target language): one clip per translated segment, in the speaker's voice where possible.

Each speaker's reference clips (for voice cloning, XTTS) are cut from that speaker's own
segments in the separated vocals (:mod:`dubbing.stages.speakerrefs`); backends that
cannot clone ignore them.

Backends with stock voices (kokoro) cast one per speaker, in the order the speakers first
speak (``Synthesizer.cast``), and are told each segment's speaker.

Outputs: ``clips/<id>.wav`` (one per segment with text), ``clips.json`` (segment id,
speaker, start, end, text, clip name, clip seconds, and the voice when one was cast; the
cast itself under ``voices``) and ``refs/<speaker>.wav``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..backends.languages import TARGET_LANGUAGE_OPTION
from ..segments import Transcript
from .base import Stage
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .errors import StageFailure
from .media import wav_duration
from .speakerrefs import choose_reference_spans


def clip_name(segment_id: int) -> str:
    return f"clips/{segment_id:04d}.wav"


def cut_references(vocals: Path, transcript: Transcript, out_dir: Path) -> dict[str, Path]:
    """One mono WAV per speaker: their chosen spans joined with short pauses (only those spans are read)."""
    import numpy as np
    import soundfile as sf

    refs: dict[str, Path] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(str(vocals)) as sound:
        rate = sound.samplerate
        for speaker in sorted({s.speaker for s in transcript.segments}):
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
    version = 1

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        return {
            "translation.json": ctx.upstream("translate", language)["translation.json"],
            "vocals.wav": ctx.upstream("separate")["vocals.wav"],
        }

    def backend_options(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> dict[str, Any]:
        return {**ctx.options(self.name), TARGET_LANGUAGE_OPTION: language}

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        data = json.loads(ctx.fetch(unit.inputs["translation.json"]).read_text(encoding="utf-8"))
        transcript = Transcript.from_dict(data)
        language = str(unit.language)
        with unit.step("references"):
            refs = cut_references(ctx.fetch(unit.inputs["vocals.wav"]), transcript, unit.out_dir / "refs")
        segments = [s for s in transcript.segments if (s.translation or "").strip()]
        (unit.out_dir / "clips").mkdir(exist_ok=True)
        outputs: dict[str, Path] = {f"refs/{speaker}.wav": path for speaker, path in refs.items()}
        clips: list[dict[str, Any]] = []
        total = 0.0
        # Speakers in the order they first speak: backends with stock voices give each its own.
        speakers = list(dict.fromkeys(s.speaker for s in sorted(segments, key=lambda s: (s.start, s.id))))
        voices = unit.backend.cast(speakers, language)  # type: ignore[attr-defined]
        with unit.step("synthesize"):
            for number, segment in enumerate(segments, start=1):
                name = clip_name(segment.id)
                path = unit.out_dir / name
                speaker_refs = [refs[segment.speaker]] if segment.speaker in refs else []
                seconds = float(
                    unit.backend.synthesize(  # type: ignore[attr-defined]
                        segment.translation or "", language, speaker_refs, path, speaker=segment.speaker
                    )
                )
                if not path.is_file() or path.stat().st_size == 0:
                    raise StageFailure(
                        "SynthesisFailed", f"{unit.backend.name} wrote no audio for segment {segment.id}"
                    )
                seconds = seconds or wav_duration(path)
                total += seconds
                outputs[name] = path
                clip: dict[str, Any] = {
                    "id": segment.id, "speaker": segment.speaker, "start": segment.start, "end": segment.end,
                    "text": segment.translation, "clip": name, "seconds": round(seconds, 4),
                }  # fmt: skip
                if segment.speaker in voices:
                    clip["voice"] = voices[segment.speaker]
                clips.append(clip)
                unit.progress.update(100.0 * number / max(1, len(segments)), f"segment {number}/{len(segments)}")
        index: dict[str, Any] = {"language": language, "backend": unit.backend.name, "clips": clips}
        if voices:
            index["voices"] = voices
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
                "voices": len(set(voices.values())),
                "speechSeconds": round(total, 3),
                "realTimeFactor": round(synth / total, 4) if total else None,
                "clonedVoices": bool(refs)
                and bool(unit.backend.identity().get("cloning", unit.backend.name == "xtts")),
            },
        )


STAGE = Tts
