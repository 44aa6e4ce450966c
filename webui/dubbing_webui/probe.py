"""ffprobe a stored object through a presigned URL: is it audio or video?

ffprobe may open only the object itself (HTTP to the store) and only with a demuxer of an audio or
video container: playlists (HLS, DASH), concatenation lists and image sequences, which would make
it open other addresses or files, are not on the list. Its messages are cleaned of URLs before
they reach a client (a presigned URL carries a signature and the store's internal address).
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

#: Demuxers of the containers a dub can start from (ffmpeg's names; ``mov`` covers mp4/m4a/3gp).
MEDIA_DEMUXERS = (
    "mov,matroska,webm,avi,mpegts,mpeg,flv,asf,wav,w64,aiff,caf,mp3,aac,flac,ogg,ac3,eac3,"
    "truehd,dts,amr,au,wv,ape,tta,mpc,mpc8,mxf,nut,nuv,rm,dv,gxf,lxf,ivf,h264,hevc,m4v,mpegvideo,"
    "obu,dirac,vc1,yuv4mpegpipe"
)
#: The object is read over HTTP(S) and nothing else (no file:, no data:, no subfile, no concat).
PROTOCOLS = "http,https,tcp,tls"
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S*?(?=:?(?:\s|$))", re.I)

_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif", "bmp_pipe", "svg_pipe", "tiff_pipe"}


class ProbeError(ValueError):
    pass


def probe_url(url: str, ffprobe: str = "ffprobe", timeout_s: float = 120) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            [
                ffprobe,
                *("-v", "error", "-print_format", "json", "-show_format", "-show_streams"),
                *("-protocol_whitelist", PROTOCOLS, "-format_whitelist", MEDIA_DEMUXERS),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ProbeError("ffprobe timed out") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["ffprobe failed"])[-1]
        raise ProbeError("not a media file: " + clean_message(last)[:300])
    return json.loads(proc.stdout or "{}")


def clean_message(text: str) -> str:
    """ffprobe's line without any URL in it (``the upload`` in its place)."""
    text = _URL.sub("the upload", text)
    return text.replace("Format not on whitelist", "not an audio or video container")


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
