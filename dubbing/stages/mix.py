"""mix (per target language): the dubbed audio track.

1. Time-fit (:mod:`dubbing.stages.timefit`): each clip starts at its segment's start;
   it may use the pause after the segment, then be sped up (ffmpeg ``atempo``, pitch
   preserved) up to ``maxStretch``, never more; what still does not fit is reported.
2. Background (the separated background; the original audio with separation ``none``):
   ``duck`` lowers it by ``duckDb`` under the dubbed speech (a volume envelope with
   short ramps), ``keep`` leaves it as is, ``replace`` drops it.
3. Loudness: EBU R128 to ``loudnessLufs`` with ffmpeg ``loudnorm``, two passes
   (measure, then normalise linearly with the measured values).

Output ``dubbed.wav`` (full-rate stereo, exactly the input's duration) and
``timefit.json`` (each clip's placement and the summary).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from . import timefit
from .base import Stage
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .errors import StageFailure
from .media import run_ffmpeg

TRUE_PEAK = -1.5
LRA = 11.0


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


class Mix(Stage):
    name = "mix"
    version = 1

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        tts = ctx.upstream("tts", language)
        refs = {name: ref for name, ref in tts.items() if name == "clips.json" or name.startswith("clips/")}
        refs["background.wav"] = ctx.upstream("separate")["background.wav"]
        refs["probe.json"] = ctx.upstream("extract")["probe.json"]
        return refs

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        import numpy as np
        import soundfile as sf

        options = unit.options
        max_stretch = float(options.get("maxStretch", 1.25))
        mode = str(options.get("background", "duck"))
        duck_db = float(options.get("duckDb", -12.0))
        lufs = float(options.get("loudnessLufs", -16.0))
        probe = json.loads(ctx.fetch(unit.inputs["probe.json"]).read_text(encoding="utf-8"))
        clips = json.loads(ctx.fetch(unit.inputs["clips.json"]).read_text(encoding="utf-8"))["clips"]
        background_path = ctx.fetch(unit.inputs["background.wav"])
        rate = int(sf.info(str(background_path)).samplerate)
        duration = float(probe["duration"])
        total = int(round(duration * rate))

        with unit.step("plan"):
            slots = [timefit.Slot(int(c["id"]), float(c["start"]), float(c["end"]), float(c["seconds"])) for c in clips]
            placements = timefit.plan(slots, duration, max_stretch)
        by_id = {int(c["id"]): c for c in clips}
        unit.progress.update(5.0, f"placing {len(placements)} clips")

        speech = np.zeros((total, 2), dtype=np.float32)
        regions: list[tuple[float, float]] = []
        work = unit.out_dir / "work"
        work.mkdir(exist_ok=True)
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
                samples, _ = sf.read(str(fitted), dtype="float32", always_2d=True)
                begin = int(round(placement.start * rate))
                end = min(total, begin + len(samples))
                if end > begin:
                    speech[begin:end] += samples[: end - begin]
                    regions.append((begin / rate, end / rate))
                unit.progress.update(5 + 60 * number / max(1, len(placements)), f"segment {number}/{len(placements)}")

        with unit.step("background"):
            if mode == "replace":
                bed = np.zeros_like(speech)
            else:
                data, bed_rate = sf.read(str(background_path), dtype="float32", always_2d=True)
                if bed_rate != rate:
                    raise StageFailure("MixFailed", f"background rate {bed_rate} Hz differs from {rate} Hz")
                if data.shape[1] == 1:
                    data = np.repeat(data, 2, axis=1)
                data = data[:, :2]
                bed = np.zeros_like(speech)
                length = min(total, len(data))
                bed[:length] = data[:length]
                if mode == "duck":
                    envelope = timefit.duck_envelope(regions, duration, rate, duck_db)[:total]
                    bed *= envelope[:, None]
            premix = speech + bed
            peak = float(np.max(np.abs(premix))) if premix.size else 0.0
            if peak > 1.0:  # leave headroom for loudnorm's measurement: no clipping in the float file
                premix /= peak
            premix_path = work / "premix.wav"
            sf.write(str(premix_path), premix, rate, subtype="FLOAT")
        unit.progress.update(70.0, f"loudness to {lufs:g} LUFS")

        dubbed = unit.out_dir / "dubbed.wav"
        with unit.step("loudness"), unit.progress.heartbeat(f"loudness to {lufs:g} LUFS"):
            loud_path = work / "loud.wav"
            loudness = loudness_normalise(premix_path, loud_path, lufs, rate)
            out, _ = sf.read(str(loud_path), dtype="int16", always_2d=True)
            exact = np.zeros((total, 2), dtype=np.int16)  # exactly the input's duration
            exact[: min(total, len(out))] = out[:total]
            sf.write(str(dubbed), exact, rate, subtype="PCM_16")
        summary = timefit.summary(placements)
        report = {
            "options": {"maxStretch": max_stretch, "background": mode, "duckDb": duck_db, "loudnessLufs": lufs},
            "durationSeconds": duration,
            "sampleRate": rate,
            "summary": summary,
            "placements": [p.as_dict() for p in placements],
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
                "loudnessLufs": output_lufs,
                "background": mode,
            },
        )


STAGE = Mix
