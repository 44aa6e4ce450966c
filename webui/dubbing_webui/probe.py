"""ffprobe a stored object through a presigned URL: is it audio or video?"""

from __future__ import annotations

import json
import subprocess
from typing import Any

_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif", "bmp_pipe", "svg_pipe", "tiff_pipe"}


class ProbeError(ValueError):
    pass


def probe_url(url: str, ffprobe: str = "ffprobe", timeout_s: float = 120) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", url],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ProbeError("ffprobe timed out") from exc
    if proc.returncode != 0:
        raise ProbeError("not a media file: " + (proc.stderr.strip().splitlines() or ["ffprobe failed"])[-1][:300])
    return json.loads(proc.stdout or "{}")


def media_summary(info: dict[str, Any]) -> dict[str, Any]:
    """Keep what the UI shows; raise ProbeError if there is no audio or video to dub."""
    fmt = info.get("format") or {}
    streams = info.get("streams") or []
    kinds = [s.get("codec_type") for s in streams]
    if fmt.get("format_name") in _IMAGE_FORMATS:
        raise ProbeError("a still image is not media to dub")
    if "audio" not in kinds and "video" not in kinds:
        raise ProbeError("no audio or video stream")
    try:
        duration = float(fmt.get("duration") or 0)
    except ValueError:
        duration = 0.0
    if duration <= 0:
        raise ProbeError("media has no duration")
    return {
        "format": fmt.get("format_name"),
        "duration": duration,
        "video": "video" in kinds,
        "audio": "audio" in kinds,
        "streams": [{"type": s.get("codec_type"), "codec": s.get("codec_name")} for s in streams][:16],
    }
