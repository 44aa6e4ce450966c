"""Per-segment cache of synthesised speech: a segment whose text, speaker, voice, reference
audio, speaking rate, backend and options are unchanged reuses its earlier clip, so an edit
of one translation resynthesises one clip.

``cache/tts-segment/<key>/clip.wav`` then ``clip.json`` (written last: the entry counts only
once it exists; it records the clip's length and size).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..artifacts import ArtifactNotFound, ArtifactStore
from . import cachekey, layout

#: Options of the tts stage that do not change one clip read at a given rate.
NOT_PER_CLIP = frozenset({"maxRate"})
#: Bumped when what a clip is made from changes meaning.
VERSION = 1


def segment_key(
    backend_identity: Mapping[str, Any],
    options: Mapping[str, Any],
    language: str,
    text: str,
    speaker: str,
    voice: str | None,
    reference_sha256: str | None,
    rate: float,
) -> str:
    material = {
        "stage": layout.SEGMENT_CLIP_STAGE,
        "version": VERSION,
        "backend": dict(backend_identity),
        "options": {k: v for k, v in cachekey.output_options(options).items() if k not in NOT_PER_CLIP},
        "language": language,
        "text": text,
        "speaker": speaker,
        "voice": voice,
        "reference": reference_sha256,
        "rate": rate,
    }
    return cachekey.key_of(material)


def lookup(store: ArtifactStore, key: str, dest: Path) -> float | None:
    """Copy the stored clip to ``dest`` and return its length in seconds; None when not stored."""
    try:
        meta = store.get_json(layout.cache_object(layout.SEGMENT_CLIP_STAGE, key, "clip.json"))
    except (ArtifactNotFound, ValueError, UnicodeDecodeError):
        return None
    clip = layout.cache_object(layout.SEGMENT_CLIP_STAGE, key, "clip.wav")
    info = store.stat(clip)
    if info is None or info.size != int(meta.get("size", -1)):
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        store.get_file(clip, dest)
    except ArtifactNotFound:
        return None
    return float(meta["seconds"])


def remember(store: ArtifactStore, key: str, path: Path, seconds: float) -> None:
    info = store.put_file(layout.cache_object(layout.SEGMENT_CLIP_STAGE, key, "clip.wav"), path)
    store.put_json(
        layout.cache_object(layout.SEGMENT_CLIP_STAGE, key, "clip.json"), {"seconds": seconds, "size": info.size}
    )
