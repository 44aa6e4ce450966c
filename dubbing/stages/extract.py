"""extract: probe the input, refuse what is not usable media, and decode its audio.

Outputs:

- ``speech.wav``: 16 kHz mono PCM, for diarization and ASR
- ``audio.wav``: full-rate stereo PCM (``sampleRate``, default 44.1 kHz), for separation and the mix
- ``probe.json``: what ffprobe says (duration, streams, languages) plus the input's SHA-256

Refusals are permanent (exit 2) with one line: EmptyInput, NotMedia, TruncatedInput,
CorruptInput, NoAudioStream, InvalidInput.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..artifacts import sha256_file
from .base import Stage
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .errors import InputError
from .media import probe, run_ffmpeg, wav_duration

SPEECH_RATE = 16000
#: Decoding problems that mean the file is damaged, not that ffmpeg is.
_CORRUPT = re.compile(
    r"partial file|invalid data found|error while decoding|truncat|corrupt|moov atom not found|end of file", re.I
)


class Extract(Stage):
    name = "extract"
    version = 1

    def __init__(self) -> None:
        self._input: dict[str, Any] | None = None

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        source = ctx.input_source()
        fingerprint = ctx.input_fingerprint()
        previous = ctx.read_index(self.name) or {}
        known = previous.get("input") or {}
        if (
            fingerprint
            and known.get("sha256")
            and all(known.get(k) == fingerprint.get(k) for k in ("source", "etag", "size"))
        ):
            sha = str(known["sha256"])  # same object as last time: no need to read it again
            size = int(fingerprint["size"])
        else:
            path = ctx.local_input()
            if path.stat().st_size == 0:
                raise InputError("EmptyInput", "input file is empty (0 bytes)")
            sha = sha256_file(path)
            size = path.stat().st_size
        self._input = {
            "source": source,
            "sha256": sha,
            "size": size,
            **({"etag": fingerprint["etag"]} if fingerprint else {}),
        }
        return {"media": Ref(source, sha, size)}

    def summary_outputs(
        self, published: Mapping[str, Mapping[str, Any]], entries: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The cache entry's key and the input's length (``mediaSeconds``): the operator sizes the
        later stages' memory from it."""
        entry = next(iter(entries.values()))
        seconds = (entry.get("metrics") or {}).get("durationSeconds")
        return {"key": entry["key"], **({"mediaSeconds": seconds} if seconds is not None else {})}

    def index_extra(self, ctx: StageContext) -> dict[str, Any]:
        return {"input": self._input} if self._input else {}

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        rate = int(unit.options.get("sampleRate", 44100))
        path = ctx.local_input()
        with unit.step("probe"):
            info = probe(path)
        unit.progress.update(5.0, f"probed: {info.format_name}, {info.duration:.1f} s, {len(info.streams)} streams")
        audio = info.audio_streams
        if not audio:
            kinds = ", ".join(sorted({str(s.get("codec_type")) for s in info.streams})) or "none"
            raise InputError("NoAudioStream", f"input has no audio stream (streams: {kinds}); nothing to dub")
        speech = unit.out_dir / "speech.wav"
        full = unit.out_dir / "audio.wav"
        index = int(audio[0].get("index", 0))
        args = [
            "-i", str(path),
            "-map", f"0:{index}", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(SPEECH_RATE), "-c:a", "pcm_s16le", str(speech),
            "-map", f"0:{index}", "-vn", "-sn", "-dn", "-ac", "2", "-ar", str(rate), "-c:a", "pcm_s16le", str(full),
        ]  # fmt: skip
        with unit.step("decode"):
            try:
                stderr = run_ffmpeg(
                    args,
                    "decode",
                    duration=info.duration,
                    on_progress=lambda f: unit.progress.update(5 + 90 * f, "decoding audio"),
                )
            except Exception as error:  # noqa: BLE001 - any decoder failure is a corrupt input
                message = getattr(error, "message", str(error))
                raise InputError("CorruptInput", f"the input's audio cannot be decoded: {message}") from None
        decoded = wav_duration(full) if full.exists() else 0.0
        audio_duration = _stream_duration(audio[0]) or info.duration
        if decoded <= 0.0:
            raise InputError("CorruptInput", "the input's audio stream decodes to nothing")
        if decoded < audio_duration - 1.0:
            problem = next((line.strip() for line in stderr.splitlines() if _CORRUPT.search(line)), "")
            detail = f" ({problem.split('] ', 1)[-1]})" if problem else ""
            raise InputError(
                "TruncatedInput",
                f"the input's audio ends at {decoded:.1f} s of {audio_duration:.1f} s: truncated or damaged file{detail}",
            )
        probe_data = info.as_dict()
        probe_data["path"] = path.name
        probe_data["sha256"] = unit.inputs["media"].sha256
        probe_data["decodedAudioSeconds"] = round(decoded, 3)
        probe_data["speechRate"] = SPEECH_RATE
        probe_data["sampleRate"] = rate
        (unit.out_dir / "probe.json").write_text(
            json.dumps(probe_data, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        return UnitResult(
            outputs={"speech.wav": speech, "audio.wav": full, "probe.json": unit.out_dir / "probe.json"},
            metrics={
                "durationSeconds": round(info.duration, 3),
                "audioSeconds": round(decoded, 3),
                "format": info.format_name,
                "hasVideo": probe_data["hasVideo"],
                "audioStreams": len(audio),
                "sourceLanguageTag": probe_data["audio"]["language"] if probe_data.get("audio") else None,
            },
        )


def _stream_duration(stream: Mapping[str, Any]) -> float | None:
    try:
        return float(stream.get("duration"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


STAGE = Extract
__all__ = ["Extract", "STAGE", "SPEECH_RATE"]
