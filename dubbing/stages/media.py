"""ffmpeg and ffprobe, run as subprocesses, with known failures turned into one-line reasons."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, StageFailure

# Signatures of common media containers (offset, bytes).
_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4/MOV/3GP/M4A
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"free"),
    (4, b"wide"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska/WebM
    (0, b"RIFF"),  # WAV/AVI
    (0, b"OggS"),
    (0, b"fLaC"),
    (0, b"ID3"),  # MP3 with tag
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # MPEG-PS
    (0, b"\x47"),  # MPEG-TS sync byte (weak)
    (0, b"\x30\x26\xb2\x75"),  # ASF/WMV
)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StageFailure("ToolMissing", f"{name} not found on PATH")
    return path


@functools.lru_cache(maxsize=4)
def tool_version(name: str = "ffmpeg") -> str | None:
    path = shutil.which(name)
    if path is None:
        return None
    try:
        out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(rf"{name} version (\S+)", out)
    return match.group(1) if match else "unknown"


def looks_like_text(head: bytes) -> bool:
    """The first bytes are printable text (a text file renamed .mp4)."""
    if not head:
        return False
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in decoded)
    return printable / max(1, len(decoded)) > 0.95


def has_media_signature(head: bytes) -> bool:
    return any(head[offset : offset + len(sig)] == sig for offset, sig in _SIGNATURES)


@dataclass
class Probe:
    path: str
    duration: float
    format_name: str
    size: int
    streams: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def audio_streams(self) -> list[dict[str, Any]]:
        return [s for s in self.streams if s.get("codec_type") == "audio"]

    @property
    def video_streams(self) -> list[dict[str, Any]]:
        # Cover art (attached pictures) is not video.
        return [
            s
            for s in self.streams
            if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
        ]

    def as_dict(self) -> dict[str, Any]:
        audio = self.audio_streams[0] if self.audio_streams else None
        video = self.video_streams[0] if self.video_streams else None
        return {
            "duration": self.duration,
            "formatName": self.format_name,
            "size": self.size,
            "hasVideo": video is not None,
            "hasAudio": audio is not None,
            "audio": None
            if audio is None
            else {
                "codec": audio.get("codec_name"),
                "sampleRate": int(audio.get("sample_rate") or 0),
                "channels": int(audio.get("channels") or 0),
                "language": (audio.get("tags") or {}).get("language"),
                "duration": _float(audio.get("duration")),
            },
            "video": None
            if video is None
            else {
                "codec": video.get("codec_name"),
                "width": video.get("width"),
                "height": video.get("height"),
                "frameRate": video.get("avg_frame_rate"),
                "duration": _float(video.get("duration")),
            },
            "streams": [
                {
                    "index": s.get("index"),
                    "type": s.get("codec_type"),
                    "codec": s.get("codec_name"),
                    "language": (s.get("tags") or {}).get("language"),
                }
                for s in self.streams
            ],
        }


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result else None  # NaN → None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def probe(path: Path, timeout: float = 120) -> Probe:
    """ffprobe a file; InputError (permanent) when it is not usable media."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError("InputNotFound", f"input file not found: {path.name}") from None
    if size == 0:
        raise InputError("EmptyInput", "input file is empty (0 bytes)")
    with open(path, "rb") as handle:
        head = handle.read(4096)
    command = [tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise InputError("InvalidInput", f"ffprobe took longer than {timeout:.0f} s on the input") from None
    data: dict[str, Any] = {}
    try:
        data = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        data = {}
    problem = _last_line(result.stderr).replace(str(path), path.name)
    if result.returncode != 0 or not data.get("format"):
        if looks_like_text(head):
            raise InputError("NotMedia", "input is a text file, not audio or video")
        if "moov atom not found" in result.stderr and head[4:8] == b"ftyp":
            raise InputError(
                "TruncatedInput", "input is an incomplete MP4/MOV file (moov atom not found): truncated upload?"
            )
        if not has_media_signature(head):
            raise InputError(
                "NotMedia", f"input is not a recognised audio or video file ({problem or 'ffprobe found no format'})"
            )
        raise InputError("CorruptInput", f"input cannot be read as media: {problem or 'ffprobe failed'}")
    fmt = data["format"]
    streams = data.get("streams") or []
    format_name = str(fmt.get("format_name", ""))
    if format_name in {"tty", "txt", "srt", "webvtt", "ass", "lrc", "sami", "jacosub", "microdvd", "subviewer"}:
        raise InputError("NotMedia", f"input is a {format_name} text file, not audio or video")
    duration = _float(fmt.get("duration"))
    if duration is None:
        durations = [_float(s.get("duration")) for s in streams]
        duration = max((d for d in durations if d), default=None)
    if duration is None or duration <= 0:
        raise InputError("InvalidInput", "input has no duration (not a playable audio or video file)")
    return Probe(str(path), float(duration), format_name, size, streams, dict(fmt.get("tags") or {}))


def run_ffmpeg(
    args: Sequence[str],
    what: str,
    *,
    duration: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    timeout: float | None = None,
) -> str:
    """Run ``ffmpeg -hide_banner -nostdin -y <args>``; return stderr. StageFailure(FfmpegFailed) on error.

    With ``duration`` and ``on_progress``, reports the fraction done (0..1) as ffmpeg goes.
    """
    command = [tool("ffmpeg"), "-hide_banner", "-nostdin", "-y", "-v", "error"]
    if on_progress is not None and duration:
        command += ["-progress", "pipe:1", "-nostats"]
    command += list(args)
    if on_progress is None or not duration:
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise StageFailure("FfmpegTimeout", f"ffmpeg {what} took longer than {timeout:.0f} s") from None
        if result.returncode != 0:
            raise StageFailure(
                "FfmpegFailed", f"ffmpeg {what} failed: {_last_line(result.stderr) or f'exit {result.returncode}'}"
            )
        return result.stderr
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import threading

    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    started = time.monotonic()
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("out_time_us=") or line.startswith("out_time_ms="):
            try:
                micros = int(line.split("=", 1)[1])
            except ValueError:
                continue
            on_progress(min(1.0, max(0.0, micros / 1e6 / duration)))
        if timeout and time.monotonic() - started > timeout:
            process.kill()
            raise StageFailure("FfmpegTimeout", f"ffmpeg {what} took longer than {timeout:.0f} s")
    process.wait()
    reader.join(timeout=10)
    stderr = "".join(errors)
    if process.returncode != 0:
        raise StageFailure(
            "FfmpegFailed", f"ffmpeg {what} failed: {_last_line(stderr) or f'exit {process.returncode}'}"
        )
    return stderr


def wav_duration(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return float(info.frames) / float(info.samplerate)


def media_duration(path: Path) -> float:
    """Duration by ffprobe (any file ffmpeg reads)."""
    result = subprocess.run(
        [tool("ffprobe"), "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    value = _float(result.stdout.strip())
    if value is None:
        raise StageFailure(
            "FfprobeFailed", f"cannot read the duration of {Path(path).name}: {_last_line(result.stderr)}"
        )
    return value
