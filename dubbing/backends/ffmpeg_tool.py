"""The ffmpeg "backend" of the extract, mix and mux stages: readiness of the ffmpeg/ffprobe binaries.

The stage code itself (dubbing/stages/) runs ffmpeg; these classes only let the registry
and the model page say whether the binaries are there and which version they are.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any, ClassVar

from .base import Backend, BackendContext, Readiness

BINARIES: tuple[str, ...] = ("ffmpeg", "ffprobe")


@functools.lru_cache(maxsize=8)
def binary_version(name: str) -> tuple[str | None, str]:
    """(version, reason): the version string of ``name -version``, or None and why not."""
    path = shutil.which(name)
    if path is None:
        return None, f"binary {name} not found on PATH"
    try:
        result = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"{name} -version failed: {error}"
    if result.returncode != 0:
        return None, f"{name} -version exited {result.returncode}"
    match = re.search(rf"{name} version (\S+)", result.stdout)
    return (match.group(1) if match else "unknown"), ""


class _Ffmpeg(Backend):
    name: ClassVar[str] = "ffmpeg"

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        versions: dict[str, str] = {}
        for binary in BINARIES:
            version, reason = binary_version(binary)
            if version is None:
                return Readiness(cls.stage, cls.name, installed=False, ready=False, reason=reason)
            versions[binary] = version
        return Readiness(
            cls.stage, cls.name, installed=True, ready=True, model=f"ffmpeg {versions['ffmpeg']}", details=versions
        )


class FfmpegExtract(_Ffmpeg):
    stage: ClassVar[str] = "extract"


class FfmpegMix(_Ffmpeg):
    stage: ClassVar[str] = "mix"


class FfmpegMux(_Ffmpeg):
    stage: ClassVar[str] = "mux"
