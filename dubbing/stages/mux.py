"""mux (per target language): the original video with the dubbed audio and subtitles.

Streams, in order: the video (copied; re-encoded to H.264 only if the container
refuses the codec), the dubbed audio (first, default, language = target in ISO
639-2, e.g. ``por``), the original audio (language = source, e.g. ``eng``) unless
``keepOriginalAudio`` is false, then subtitle tracks for the target and the source
(``mov_text`` in MP4, SubRip in MKV) with their language tags.

Outputs ``dubbed.mp4|mkv`` and subtitle files ``target.srt/.vtt`` and
``source.srt/.vtt``; published to ``jobs/<ns>/<name>/outputs/<lang>/``. The result's
duration must be within 1 s of the input's.

With the mix's ``fit: slowVideo`` (its ``timefit.json`` lists ``retime`` spans,
:mod:`dubbing.stages.retime`), the video (re-encoded) and the original audio play slower
over those spans, as the mix slowed the bed, the subtitles move with them, and the result's
duration is the retimed one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..artifacts import sha256_file
from ..segments import Transcript
from . import editstore, retime
from .base import Stage
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .errors import MissingInput, StageFailure
from .langcodes import iso639_2
from .media import media_duration, run_ffmpeg
from .subtitles import cues_from_segments, to_srt, to_vtt

TOLERANCE_SECONDS = 1.0
#: Audio codecs each container takes as they are (the original track is copied, not re-encoded).
COPYABLE_AUDIO = {
    "mp4": frozenset({"aac", "mp3", "ac3", "eac3", "alac"}),
    "mkv": frozenset({"aac", "mp3", "ac3", "eac3", "opus", "vorbis", "flac", "pcm_s16le", "pcm_s24le"}),
}


def subtitle_texts(transcript: Transcript, use_translation: bool, duration: float | None) -> tuple[str, str, int]:
    cues = cues_from_segments(transcript.segments, use_translation, duration)
    return to_srt(cues), to_vtt(cues), len(cues)


def mux_command(
    media: Path,
    has_video: bool,
    has_audio: bool,
    dubbed: Path,
    subtitles: list[tuple[Path, str, str]],
    target_language: str,
    source_language: str,
    container: str,
    keep_original: bool,
    out: Path,
    reencode_video: bool = False,
    original_codec: str | None = None,
    spans: Sequence[retime.Span] = (),
    source_duration: float = 0.0,
) -> list[str]:
    """ffmpeg arguments (pure). ``subtitles``: (file, BCP-47 language, title). ``spans``: the
    source spans to slow down (video and original audio), on a source of ``source_duration`` seconds."""
    args = ["-i", str(media), "-i", str(dubbed)]
    for path, _, _ in subtitles:
        args += ["-i", str(path)]
    original = keep_original and has_audio
    graphs = []
    if spans and has_video:
        graphs.append(retime.video_graph(spans, source_duration, "0:v:0", "vout"))
    if spans and original:
        graphs.append(retime.audio_graph(spans, source_duration, "0:a:0", "aout"))
    if graphs:
        args += ["-filter_complex", ";".join(graphs)]
    if has_video:
        args += ["-map", "[vout]" if spans else "0:v:0"]
    args += ["-map", "1:a:0"]
    audio_tracks = [(target_language, f"Dubbed ({target_language})")]
    if original:
        args += ["-map", "[aout]" if spans else "0:a:0"]
        audio_tracks.append((source_language, f"Original ({source_language})"))
    for number in range(len(subtitles)):
        args += ["-map", f"{number + 2}:0"]
    if has_video:
        args += (
            ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
            if reencode_video or spans
            else ["-c:v", "copy"]
        )
    args += ["-c:a", "aac", "-b:a", "160k"]
    if len(audio_tracks) > 1 and not spans and original_codec in COPYABLE_AUDIO.get(container, ()):
        args += ["-c:a:1", "copy"]
    if subtitles:
        args += ["-c:s", "mov_text" if container == "mp4" else "srt"]
    for number, (language, title) in enumerate(audio_tracks):
        args += [
            f"-metadata:s:a:{number}",
            f"language={iso639_2(language)}",
            f"-metadata:s:a:{number}",
            f"title={title}",
        ]
        args += [f"-disposition:a:{number}", "default" if number == 0 else "0"]
    for number, (_, language, title) in enumerate(subtitles):
        args += [
            f"-metadata:s:s:{number}",
            f"language={iso639_2(language)}",
            f"-metadata:s:s:{number}",
            f"title={title}",
        ]
        args += [f"-disposition:s:{number}", "0"]
    if container == "mp4":
        args += ["-movflags", "+faststart"]
    args += ["-map_metadata", "0", "-f", "mp4" if container == "mp4" else "matroska", str(out)]
    return args


class Mux(Stage):
    name = "mux"
    version = 2

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        media = (ctx.read_index("extract") or {}).get("input")
        if not media:
            raise MissingInput(f"stage extract has not run for job {ctx.namespace}/{ctx.name}")
        return {
            "media": Ref(str(media["source"]), str(media["sha256"]), int(media["size"])),
            "probe.json": ctx.upstream("extract")["probe.json"],
            "dubbed.wav": ctx.upstream("mix", language)["dubbed.wav"],
            "timefit.json": ctx.upstream("mix", language)["timefit.json"],
            "transcript.json": ctx.upstream("asr")["transcript.json"],
            "translation.json": ctx.upstream("translate", language)["translation.json"],
            **editstore.stage_slice(ctx, str(language)),
        }

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        options = unit.options
        container = str(options.get("container", "mp4"))
        keep_original = bool(options.get("keepOriginalAudio", True))
        wanted = list(options.get("subtitles", ["source", "target"]))
        language = str(unit.language)
        with unit.step("fetch"):
            media = ctx.local_input()
            if sha256_file(media) != unit.inputs["media"].sha256:
                raise StageFailure(
                    "InputChanged", "the input media changed since extract ran; run the job again", permanent=True
                )
        probe = json.loads(ctx.fetch(unit.inputs["probe.json"]).read_text(encoding="utf-8"))
        source_duration = float(probe["duration"])
        fitted = json.loads(ctx.fetch(unit.inputs["timefit.json"]).read_text(encoding="utf-8"))
        retiming = retime.from_dict(fitted.get("retime"))
        duration = retiming.output_duration if retiming.spans else source_duration
        source = retime.moved(editstore.edited_input(ctx, unit.inputs, "transcript.json"), retiming)
        translation_data = json.loads(ctx.fetch(unit.inputs["translation.json"]).read_text(encoding="utf-8"))
        target = retime.moved(editstore.edited_input(ctx, unit.inputs, "translation.json", language), retiming)
        source_language = str(translation_data.get("sourceLanguage") or source.language)
        outputs: dict[str, Path] = {}
        subtitle_inputs: list[tuple[Path, str, str]] = []
        counts: dict[str, int] = {}
        for kind, transcript, lang, use_translation in (
            ("target", target, language, True),
            ("source", source, source_language, False),
        ):
            srt, vtt, count = subtitle_texts(transcript, use_translation, duration)
            counts[kind] = count
            srt_path = unit.out_dir / f"{kind}.srt"
            vtt_path = unit.out_dir / f"{kind}.vtt"
            srt_path.write_text(srt, encoding="utf-8")
            vtt_path.write_text(vtt, encoding="utf-8")
            outputs[f"{kind}.srt"] = srt_path
            outputs[f"{kind}.vtt"] = vtt_path
            if kind in wanted and count:
                subtitle_inputs.append((srt_path, lang, f"{'Dubbed' if kind == 'target' else 'Original'} ({lang})"))
        unit.progress.update(10.0, f"muxing {container}")
        dubbed = ctx.fetch(unit.inputs["dubbed.wav"])
        out = unit.out_dir / f"dubbed.{container}"
        has_video = bool(probe.get("hasVideo"))
        common: dict[str, Any] = dict(
            media=media, has_video=has_video, has_audio=bool(probe.get("hasAudio", True)), dubbed=dubbed, subtitles=subtitle_inputs,
            target_language=language, source_language=source_language, container=container, keep_original=keep_original, out=out,
            original_codec=(probe.get("audio") or {}).get("codec"), spans=retiming.spans, source_duration=source_duration,
        )  # fmt: skip
        reencoded = bool(retiming.spans and has_video)
        with unit.step("mux"):
            progress = lambda f: unit.progress.update(10 + 85 * f, f"muxing {container}")  # noqa: E731
            try:
                run_ffmpeg(mux_command(**common), "mux", duration=duration, on_progress=progress)
            except StageFailure:
                if not has_video:
                    raise
                # The container may refuse the video codec as is: re-encode it to H.264.
                reencoded = True
                run_ffmpeg(
                    mux_command(**common, reencode_video=True),
                    "mux (video re-encoded)",
                    duration=duration,
                    on_progress=progress,
                )
        result_duration = media_duration(out)
        if abs(result_duration - duration) > TOLERANCE_SECONDS:
            raise StageFailure(
                "DurationMismatch", f"muxed file lasts {result_duration:.2f} s, the input {duration:.2f} s"
            )
        outputs[f"dubbed.{container}"] = out
        return UnitResult(
            outputs=outputs,
            metrics={
                "container": container,
                "durationSeconds": round(result_duration, 3),
                "inputDurationSeconds": round(source_duration, 3),
                "slowedSpans": len(retiming.spans),
                "addedSeconds": round(duration - source_duration, 3),
                "videoReencoded": reencoded,
                "subtitleCues": counts,
                "audioTracks": 2 if keep_original and probe.get("hasAudio", True) else 1,
            },
        )

    def publish(self, ctx: StageContext, language: str | None, outputs: Mapping[str, Ref]) -> dict[str, str]:
        """Copy the final files to ``jobs/<ns>/<name>/outputs/<lang>/``."""
        mix = ctx.upstream("mix", language)
        translation = json.loads(
            ctx.fetch(ctx.upstream("translate", language)["translation.json"]).read_text(encoding="utf-8")
        )
        source_language = str(translation.get("sourceLanguage") or "source")
        published: dict[str, Any] = {}
        for name, ref in sorted(outputs.items()):
            if name.startswith("dubbed."):
                published["video"] = ctx.publish(ref, name, language)
            elif name.startswith("target."):
                published[name] = ctx.publish(ref, f"{language}{Path(name).suffix}", language)
            elif name.startswith("source."):
                published[name] = ctx.publish(ref, f"source.{source_language}{Path(name).suffix}", language)
        published["audio"] = ctx.publish(mix["dubbed.wav"], "dubbed.wav", language)
        return published


STAGE = Mux
