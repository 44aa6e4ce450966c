"""Generated sample media: an English clip with two speakers, and broken inputs.

Everything is made here from known text (espeak-ng for the voices, ffmpeg test
sources for the picture), so tests can check transcripts against :data:`SENTENCES`
and the demo needs no download. Used by the test fixtures (tests/fixtures/media.py),
``bench/pipeline.py`` and the demo.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .espeak_run import run_espeak

#: The two voices (espeak-ng): male and female US English (speaker-embedding cosine about 0.3: clearly two people).
VOICES: dict[str, str] = {"A": "en-us", "B": "en-us+f3"}
WORDS_PER_MINUTE = 150
PAUSE_SECONDS = 1.0
LEAD_IN_SECONDS = 0.8
TAIL_SECONDS = 1.5
SAMPLE_RATE = 22050

#: The known sentences, speakers alternating. The ASR word-error-rate test reads them from here.
SENTENCES: tuple[tuple[str, str], ...] = (
    ("A", "Good morning, and welcome to our short video about the city library."),
    ("B", "Thank you. Today we will talk about books, music and the new reading room."),
    ("A", "The library opens at nine in the morning and closes at six in the evening."),
    ("B", "Children can borrow five books every week, and adults can borrow ten."),
    ("A", "There is a small cafe on the second floor, next to the large windows."),
    ("B", "On Saturday we read stories to the children in the garden."),
    ("A", "Please bring your card when you visit, because the computers need it."),
    ("B", "We hope to see you soon. Have a wonderful day."),
    ("A", "The new building has more light, more space and many quiet places to study."),
    ("B", "Our team also helps people who want to learn a new language."),
    ("A", "Every month there is a concert with local musicians in the main hall."),
    ("B", "You can find the program on our website and at the front desk."),
    ("A", "Thank you for watching, and see you at the library."),
)


@dataclass(frozen=True)
class SpokenSegment:
    speaker: str
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class SampleClip:
    path: Path
    duration: float
    segments: tuple[SpokenSegment, ...]
    has_video: bool = True

    @property
    def text(self) -> str:
        return " ".join(segment.text for segment in self.segments)

    def as_dict(self) -> dict:
        return {
            "path": str(self.path),
            "duration": self.duration,
            "hasVideo": self.has_video,
            "segments": [asdict(s) for s in self.segments],
        }


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(f"{tool} is needed to generate sample media (apt-get install {tool})")
    return path


def sentences_for(count: int | None = None) -> list[tuple[str, str]]:
    """The first ``count`` sentences (cycling through the list if more are asked for)."""
    count = len(SENTENCES) if count is None else count
    return [SENTENCES[i % len(SENTENCES)] for i in range(count)]


def speak(text: str, voice: str, out_wav: Path, words_per_minute: int = WORDS_PER_MINUTE) -> Path:
    run_espeak([_need("espeak-ng"), "-v", voice, "-s", str(words_per_minute), "-w", str(out_wav), text])
    return out_wav


def make_speech(
    out_wav: Path,
    sentences: Sequence[tuple[str, str]],
    pause: float = PAUSE_SECONDS,
    min_seconds: float | None = None,
    background_db: float | None = -50.0,
) -> tuple[float, tuple[SpokenSegment, ...]]:
    """A mono speech track of the sentences with pauses, optionally over a quiet tone bed."""
    import numpy as np
    import soundfile as sf

    pieces: list[np.ndarray] = [np.zeros(int(LEAD_IN_SECONDS * SAMPLE_RATE), dtype=np.float32)]
    segments: list[SpokenSegment] = []
    cursor = LEAD_IN_SECONDS
    with tempfile.TemporaryDirectory(prefix="dubbing-speech-") as tmp:
        for number, (speaker, text) in enumerate(sentences):
            wav = speak(text, VOICES[speaker], Path(tmp) / f"{number}.wav")
            data, rate = sf.read(str(wav), dtype="float32")
            if rate != SAMPLE_RATE:
                raise RuntimeError(f"espeak-ng wrote {rate} Hz, expected {SAMPLE_RATE}")
            # Trim espeak's own leading/trailing silence so the times are the speech's.
            loud = np.flatnonzero(np.abs(data) > 0.01)
            if loud.size:
                data = data[max(0, loud[0] - 200) : loud[-1] + 200]
            segments.append(SpokenSegment(speaker, round(cursor, 3), round(cursor + len(data) / rate, 3), text))
            pieces.append(data * 0.8)
            cursor += len(data) / rate
            gap = pause if number < len(sentences) - 1 else TAIL_SECONDS
            pieces.append(np.zeros(int(gap * SAMPLE_RATE), dtype=np.float32))
            cursor += gap
    speech = np.concatenate(pieces)
    if min_seconds is not None and len(speech) < min_seconds * SAMPLE_RATE:
        speech = np.concatenate([speech, np.zeros(int(min_seconds * SAMPLE_RATE) - len(speech), dtype=np.float32)])
    if background_db is not None:
        t = np.arange(len(speech), dtype=np.float32) / SAMPLE_RATE
        level = 10 ** (background_db / 20.0)
        bed = level * (0.6 * np.sin(2 * np.pi * 110.0 * t) + 0.4 * np.sin(2 * np.pi * 165.0 * t))
        speech = speech + bed.astype(np.float32)
    sf.write(str(out_wav), speech, SAMPLE_RATE, subtype="PCM_16")
    return len(speech) / SAMPLE_RATE, tuple(segments)


def make_clip(
    out: Path,
    count: int | None = 8,
    min_seconds: float | None = None,
    video: bool = True,
    size: str = "320x240",
    rate: int = 25,
    audio_language: str | None = None,
) -> SampleClip:
    """An MP4 (or an audio-only .m4a/.wav when ``video`` is False) of two English speakers taking turns."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dubbing-sample-") as tmp:
        speech = Path(tmp) / "speech.wav"
        duration, segments = make_speech(speech, sentences_for(count), min_seconds=min_seconds)
        command = [_need("ffmpeg"), "-hide_banner", "-nostdin", "-y", "-v", "error"]
        if video:
            command += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={duration:.3f}"]
        command += ["-i", str(speech)]
        if video:
            command += [
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                "-g",
                str(rate * 2),
            ]
        command += ["-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2", "-t", f"{duration:.3f}"]
        if audio_language:
            command += ["-metadata:s:a:0", f"language={audio_language}"]
        command += [str(out)]
        subprocess.run(command, check=True, capture_output=True)
    return SampleClip(out, round(duration, 3), segments, video)


def make_broken_inputs(directory: Path, good_clip: Path | None = None) -> dict[str, Path]:
    """Inputs extract must refuse: ``text`` (a text file renamed .mp4), ``empty`` (0 bytes),
    ``noaudio`` (a video without an audio track), ``truncated`` (an MP4 cut in half) and
    ``truncated_faststart`` (an MP4 with its index first, cut in half)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ffmpeg = _need("ffmpeg")
    paths: dict[str, Path] = {}
    text = directory / "notes.mp4"
    text.write_text("These are meeting notes, not a video.\nItem one: buy more coffee.\n", encoding="utf-8")
    paths["text"] = text
    empty = directory / "empty.mp4"
    empty.write_bytes(b"")
    paths["empty"] = empty
    noaudio = directory / "silent-film.mp4"
    subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=6",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(noaudio)],
        check=True, capture_output=True,
    )  # fmt: skip
    paths["noaudio"] = noaudio
    source = good_clip
    if source is None:
        source = make_clip(directory / "whole.mp4", count=2).path
    data = Path(source).read_bytes()
    truncated = directory / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    paths["truncated"] = truncated
    faststart = directory / "whole-faststart.mp4"
    subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error", "-i", str(source), "-c", "copy", "-movflags", "+faststart", str(faststart)],
                   check=True, capture_output=True)  # fmt: skip
    fs = faststart.read_bytes()
    truncated_fs = directory / "truncated-faststart.mp4"
    truncated_fs.write_bytes(fs[: len(fs) // 2])
    faststart.unlink()
    paths["truncated_faststart"] = truncated_fs
    return paths


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m dubbing.samples", description="Generate the two-speaker English sample clip."
    )
    parser.add_argument("out", help="output file (.mp4)")
    parser.add_argument("--sentences", type=int, default=8)
    parser.add_argument("--min-seconds", type=float)
    parser.add_argument("--audio-only", action="store_true")
    args = parser.parse_args(argv)
    clip = make_clip(Path(args.out), count=args.sentences, min_seconds=args.min_seconds, video=not args.audio_only)
    print(json.dumps(clip.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
