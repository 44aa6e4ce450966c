"""mix (per target language): the dubbed audio track.

1. Time-fit (:mod:`dubbing.stages.timefit`): each clip starts at its segment's start;
   it may use the pause after the segment, then start a little earlier (the free time
   before it), then be sped up (ffmpeg ``atempo``, pitch preserved) up to ``maxStretch``,
   never more (the tts stage has already read such lines faster where its backend can:
   :mod:`dubbing.stages.ratefit`).  With ``fit: slowVideo``, a line that still does not
   fit plays over a slowed span of the video, at most ``maxSlowdown`` (:mod:`dubbing.stages.retime`):
   the bed is slowed over the same spans here, the video and the original audio by the mux,
   and the output is longer than the input by the spans' extra seconds.  What each line
   needed (rate, stretch, slow-down, overrun left) is reported per segment
   (:mod:`dubbing.stages.fitreport`).
2. Background, the bed (the separated background; the original audio, voices included,
   with separation ``none``): ``duck`` lowers it by ``duckDb`` under the dubbed speech (a
   volume envelope with short ramps); ``suppress`` does that and also lowers it by
   ``suppressDb`` wherever the source speaks (the ASR's segments and words, with short
   fades), so the original voices do not play under the dub; ``keep`` leaves it as is;
   ``replace`` drops it. ``auto``: ``suppress`` after separation ``none``, else ``duck``.
3. Loudness: EBU R128 to ``loudnessLufs`` with ffmpeg ``loudnorm``, two passes
   (measure, then normalise linearly with the measured values).

Output ``dubbed.wav`` (full-rate stereo, exactly the input's duration, or the retimed one) and
``timefit.json`` (each clip's placement, the summary, and what was done to the bed).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import blocks, fitreport, retime, timefit
from .base import Stage
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .errors import StageFailure
from .media import run_ffmpeg

TRUE_PEAK = -1.5
LRA = 11.0
#: Source speech regions are widened by this much before and after: Whisper's segment and word
#: ends run early (on the demo by 0.01-0.21 s, 0.12 s on average; its starts are early already)...
SPEECH_PAD_BEFORE_SECONDS = 0.1
SPEECH_PAD_AFTER_SECONDS = 0.25
#: ... and faded in and out over this long (linear), so the bed does not click.
SPEECH_FADE_SECONDS = 0.08
#: Ramps of the ducking under the dubbed speech (``timefit.duck_envelope``'s default).
DUCK_RAMP_SECONDS = 0.15
#: Regions closer than this are joined (the bed does not pump between two words).
SPEECH_JOIN_SECONDS = 0.3


def resolve_background(requested: str, separation: str | None) -> str:
    """The bed treatment actually used: ``auto`` means ``suppress`` when no separation ran
    (the bed is the original, voices included), else ``duck``; explicit modes are kept."""
    if requested != "auto":
        return requested
    return "suppress" if separation in (None, "none") else "duck"


def source_speech_regions(
    segments: Sequence[Mapping[str, Any]],
    duration: float,
    pad_before: float = SPEECH_PAD_BEFORE_SECONDS,
    pad_after: float = SPEECH_PAD_AFTER_SECONDS,
    join: float = SPEECH_JOIN_SECONDS,
) -> list[tuple[float, float]]:
    """Where the source speaks, from the ASR's segments and their words: each segment's span
    (widened to its words), padded, clipped to the media, overlaps and short gaps joined."""
    spans: list[tuple[float, float]] = []
    for segment in segments:
        start, end = float(segment["start"]), float(segment["end"])
        words = segment.get("words") or ()
        if words:
            start = min(start, min(float(w["start"]) for w in words))
            end = max(end, max(float(w["end"]) for w in words))
        start, end = max(0.0, start - pad_before), min(duration, end + pad_after)
        if end > start:
            spans.append((start, end))
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] < join:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _loudnorm_json(stderr: str) -> dict[str, Any] | None:
    matches = re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr, re.S)
    if not matches:
        return None
    try:
        return json.loads(matches[-1])
    except json.JSONDecodeError:
        return None


_EBUR128 = re.compile(
    r"Integrated loudness:\s*I:\s*(?P<i>-?[\d.]+|-inf) LUFS\s*Threshold:\s*(?P<thresh>-?[\d.]+|-inf) LUFS"
    r".*?Loudness range:\s*LRA:\s*(?P<lra>-?[\d.]+) LU"
    r".*?True peak:\s*Peak:\s*(?P<tp>-?[\d.]+|-inf) dBFS",
    re.S,
)


def measure_ebur128(source: Path) -> dict[str, Any] | None:
    """EBU R128 measurement with ffmpeg's ``ebur128`` filter (much faster than a loudnorm pass);
    the keys are loudnorm's first-pass ones. None if the summary cannot be read."""
    stderr = run_ffmpeg(
        ["-v", "info", "-i", str(source), "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"],
        "loudness measurement",
    )
    matches = list(_EBUR128.finditer(stderr))
    if not matches:
        return None
    found = matches[-1]
    return {
        "input_i": found["i"],
        "input_tp": found["tp"],
        "input_lra": found["lra"],
        "input_thresh": found["thresh"],
        "target_offset": "0.0",
        "measuredWith": "ebur128",
    }


def loudness_normalise(source: Path, dest: Path, target: float, rate: int) -> dict[str, Any]:
    """Two-pass loudness normalisation of ``source`` into ``dest`` (PCM 16-bit stereo at ``rate``).

    Pass 1 measures (ebur128; a loudnorm pass if that cannot be read), pass 2 is loudnorm
    with the measured values, linear where the true-peak limit allows. Returns both measurements.
    """
    first = measure_ebur128(source)
    if first is None or "inf" in str(first.get("input_tp")):
        measure = f"loudnorm=I={target}:TP={TRUE_PEAK}:LRA={LRA}:print_format=json"
        first = _loudnorm_json(
            run_ffmpeg(["-v", "info", "-i", str(source), "-af", measure, "-f", "null", "-"], "loudness measurement")
        )
    if first is None or first.get("input_i") in (None, "-inf") or float(first["input_i"]) < -70:
        # Silence (nothing to normalise): copy as is.
        run_ffmpeg(
            ["-i", str(source), "-ac", "2", "-ar", str(rate), "-c:a", "pcm_s16le", str(dest)], "write silent mix"
        )
        return {"skipped": "silent", "input": first}
    second = (
        f"loudnorm=I={target}:TP={TRUE_PEAK}:LRA={LRA}:measured_I={first['input_i']}:measured_TP={first['input_tp']}"
        f":measured_LRA={first['input_lra']}:measured_thresh={first['input_thresh']}:offset={first['target_offset']}"
        ":linear=true:print_format=json"
    )
    stats = _loudnorm_json(
        run_ffmpeg(
            [
                "-v",
                "info",
                "-i",
                str(source),
                "-af",
                second,
                "-ac",
                "2",
                "-ar",
                str(rate),
                "-c:a",
                "pcm_s16le",
                str(dest),
            ],
            "loudness normalisation",
        )
    )
    return {"input": first, "output": stats}


@dataclass(frozen=True)
class Ducking:
    """The bed lowered by ``gain_db`` over ``regions`` (seconds), with linear ramps ``ramp`` long."""

    regions: Sequence[tuple[float, float]]
    gain_db: float
    ramp: float


def write_premix(
    placed: Sequence[blocks.PlacedClip],
    background: Path | None,
    ducking: Sequence[Ducking],
    total: int,
    rate: int,
    work: Path,
) -> Path:
    """The dubbed speech over the bed (``background``, lowered by the lowest of the ``ducking`` gains;
    none: silence), ``total`` samples of float stereo, written block by block; scaled to a peak of 1.0
    when it goes above (headroom for loudnorm's measurement: no clipping in the float file)."""
    import numpy as np
    import soundfile as sf

    size = int(blocks.BLOCK_SECONDS * rate)
    raw = work / "premix-raw.wav"
    peak = 0.0
    with contextlib.ExitStack() as files:
        sink = files.enter_context(sf.SoundFile(str(raw), "w", rate, 2, subtype="FLOAT"))
        bed = files.enter_context(sf.SoundFile(str(background))) if background is not None else None
        if bed is not None and bed.samplerate != rate:
            raise StageFailure("MixFailed", f"background rate {bed.samplerate} Hz differs from {rate} Hz")
        for begin, end in blocks.block_ranges(total, size):
            speech = np.zeros((end - begin, 2), dtype=np.float32)
            blocks.add_clips(speech, begin, placed)
            if bed is None:
                block = speech
            else:
                under = blocks.read_frames(bed, end - begin)
                gains = [blocks.envelope_block(d.regions, total, rate, d.gain_db, begin, end, d.ramp) for d in ducking]
                if gains:
                    under *= functools.reduce(np.minimum, gains)[:, None]
                block = speech + under
            if block.size:
                peak = max(peak, float(np.max(np.abs(block))))
            sink.write(block)
    if peak <= 1.0:
        return raw
    scaled = work / "premix.wav"
    with sf.SoundFile(str(raw)) as source, sf.SoundFile(str(scaled), "w", rate, 2, subtype="FLOAT") as sink:
        for begin, end in blocks.block_ranges(total, size):
            block = source.read(end - begin, dtype="float32", always_2d=True)
            block /= peak
            sink.write(block)
    raw.unlink()
    return scaled


def _separation(ctx: StageContext) -> str | None:
    """The backend the job's separate stage ran with (None if it did not record one)."""
    index = ctx.read_index("separate") or {}
    return index.get("backend")


class Mix(Stage):
    name = "mix"
    version = 3

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        tts = ctx.upstream("tts", language)
        refs = {name: ref for name, ref in tts.items() if name == "clips.json" or name.startswith("clips/")}
        refs["background.wav"] = ctx.upstream("separate")["background.wav"]
        refs["probe.json"] = ctx.upstream("extract")["probe.json"]
        if resolve_background(str(ctx.options(self.name).get("background", "auto")), _separation(ctx)) == "suppress":
            refs["transcript.json"] = ctx.upstream("asr")["transcript.json"]
        return refs

    def backend_options(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> dict[str, Any]:
        # What the bed is depends on how it was separated: that is part of the mix's cache key.
        return {**ctx.options(self.name), "separation": _separation(ctx)}

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        import soundfile as sf

        options = unit.options
        max_stretch = float(options.get("maxStretch", 1.25))
        fit = str(options.get("fit", retime.STRETCH))
        max_slowdown = float(options.get("maxSlowdown", retime.DEFAULT_MAX_SLOWDOWN))
        requested = str(options.get("background", "auto"))
        separation = options.get("separation")
        mode = resolve_background(requested, separation)
        duck_db = float(options.get("duckDb", -12.0))
        suppress_db = float(options.get("suppressDb", -40.0))
        lufs = float(options.get("loudnessLufs", -16.0))
        probe = json.loads(ctx.fetch(unit.inputs["probe.json"]).read_text(encoding="utf-8"))
        clips = json.loads(ctx.fetch(unit.inputs["clips.json"]).read_text(encoding="utf-8"))["clips"]
        background_path = ctx.fetch(unit.inputs["background.wav"])
        rate = int(sf.info(str(background_path)).samplerate)
        source_duration = float(probe["duration"])

        with unit.step("plan"):
            slots = [timefit.Slot(int(c["id"]), float(c["start"]), float(c["end"]), float(c["seconds"])) for c in clips]
            slowdown = max_slowdown if fit == retime.SLOW_VIDEO else 1.0
            retiming = retime.plan(slots, source_duration, max_stretch, slowdown)
            placements = list(retiming.placements)
        work = unit.out_dir / "work"
        work.mkdir(exist_ok=True)
        if retiming.spans and mode != "replace":
            with unit.step("retime"):
                background_path = retime.slow_audio(background_path, retiming, work / "bed.wav")
        duration = retiming.output_duration
        total = int(round(duration * rate))
        by_id = {int(c["id"]): c for c in clips}
        unit.progress.update(5.0, f"placing {len(placements)} clips")

        placed: list[blocks.PlacedClip] = []
        regions: list[tuple[float, float]] = []
        with unit.step("stretch"):
            for number, placement in enumerate(placements, start=1):
                clip = ctx.fetch(unit.inputs[by_id[placement.id]["clip"]])
                fitted = work / f"{placement.id:04d}.wav"
                filters = [f"aresample={rate}"]
                if placement.tempo > 1.0:
                    filters.append(timefit.atempo_chain(placement.tempo))
                run_ffmpeg(
                    [
                        "-i",
                        str(clip),
                        "-af",
                        ",".join(filters),
                        "-ac",
                        "2",
                        "-ar",
                        str(rate),
                        "-c:a",
                        "pcm_f32le",
                        str(fitted),
                    ],
                    f"fit clip {placement.id}",
                )
                frames = int(sf.info(str(fitted)).frames)
                begin = int(round(placement.start * rate))
                end = min(total, begin + frames)
                if end > begin:
                    placed.append(blocks.PlacedClip(fitted, begin, end - begin))
                    regions.append((begin / rate, end / rate))
                unit.progress.update(5 + 60 * number / max(1, len(placements)), f"segment {number}/{len(placements)}")

        source_regions: list[tuple[float, float]] = []
        if mode == "suppress":
            if "transcript.json" not in unit.inputs:
                raise StageFailure(
                    "MixFailed", "background suppress needs the asr transcript (speech times), which is not an input"
                )
            transcript = json.loads(ctx.fetch(unit.inputs["transcript.json"]).read_text(encoding="utf-8"))
            source_regions = [
                (retiming.to_output(start), retiming.to_output(end))
                for start, end in source_speech_regions(transcript.get("segments") or [], source_duration)
            ]
        bed_report = {
            "requested": requested,
            "mode": mode,
            "separation": separation,
            "duckDb": duck_db if mode in ("duck", "suppress") else None,
            "suppressDb": suppress_db if mode == "suppress" else None,
            "sourceSpeechRegions": len(source_regions),
            "sourceSpeechSeconds": round(sum(end - start for start, end in source_regions), 3),
        }
        with unit.step("background"):
            ducking: list[Ducking] = []
            if mode in ("duck", "suppress"):
                ducking.append(Ducking(regions, duck_db, DUCK_RAMP_SECONDS))
            if mode == "suppress":
                ducking.append(Ducking(source_regions, suppress_db, SPEECH_FADE_SECONDS))
            bed = None if mode == "replace" else background_path
            premix_path = write_premix(placed, bed, ducking, total, rate, work)
        unit.progress.update(70.0, f"loudness to {lufs:g} LUFS")

        dubbed = unit.out_dir / "dubbed.wav"
        with unit.step("loudness"), unit.progress.heartbeat(f"loudness to {lufs:g} LUFS"):
            loud_path = work / "loud.wav"
            loudness = loudness_normalise(premix_path, loud_path, lufs, rate)
            blocks.copy_exact(
                loud_path, dubbed, total, int(blocks.BLOCK_SECONDS * rate)
            )  # exactly the input's duration
        reports = [fitreport.segment_report(p, by_id[p.id], retiming) for p in placements]
        summary = {**timefit.summary(placements), **fitreport.summary(reports, retiming)}
        report = {
            "options": {
                "maxStretch": max_stretch,
                "fit": fit,
                "maxSlowdown": max_slowdown,
                "background": requested,
                "duckDb": duck_db,
                "suppressDb": suppress_db,
                "loudnessLufs": lufs,
            },
            "durationSeconds": duration,
            "sampleRate": rate,
            "summary": summary,
            "bed": bed_report,
            "retime": retiming.as_dict(),
            "placements": reports,
            "loudness": loudness,
        }
        (unit.out_dir / "timefit.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        output_lufs = None
        if isinstance(loudness.get("output"), dict):
            try:
                output_lufs = float(loudness["output"]["output_i"])
            except (KeyError, TypeError, ValueError):
                output_lufs = None
        return UnitResult(
            outputs={"dubbed.wav": dubbed, "timefit.json": unit.out_dir / "timefit.json"},
            metrics={
                **summary,
                "durationSeconds": round(duration, 3),
                "sourceDurationSeconds": round(source_duration, 3),
                "loudnessLufs": output_lufs,
                "background": mode,
                "sourceSpeechSuppressedSeconds": bed_report["sourceSpeechSeconds"],
            },
        )


STAGE = Mix
