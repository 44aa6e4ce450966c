"""A job's segment edits: what the user changed in the transcript and translations (pure).

An edits document names segments by id and says, for each, what to use instead of what
the stages produced: the source ``text``, the ``translations`` per target language, the
``speaker``, the ``start``/``end`` times, and whether the segment is ``locked`` (kept as
the document says whatever the stages produce on a rerun).  Documents are versioned: each
save is a new version beside the job's artifacts (:mod:`dubbing.stages.editstore`).

Stages see only the *slice* of the document that can change their output
(:func:`source_slice` for translate, :func:`language_slice` for tts and mux of one
language), so an edit of one translation changes the cache keys of that language's tts,
mix and mux only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .segments import Segment, Transcript

EDITS_API = "dubbing.dev/edits/v1"
#: Bounds: an edits document is small and human-made.
MAX_EDITED_SEGMENTS = 10_000
MAX_TEXT_CHARS = 2_000
MAX_LANGUAGES = 32
SPEAKER_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class EditsError(ValueError):
    """An edits document that cannot be applied; ``reasons`` lists every problem found."""

    def __init__(self, reasons: Iterable[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons))


class SegmentEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS, description="New source text.")
    translations: dict[str, str] = Field(default_factory=dict, description="New translation per target language.")
    speaker: str | None = Field(default=None, pattern=SPEAKER_PATTERN, description="New speaker label.")
    start: float | None = Field(default=None, ge=0.0, description="New start time (seconds).")
    end: float | None = Field(default=None, gt=0.0, description="New end time (seconds).")
    locked: bool = Field(default=False, description="Keep this segment as the document says on every rerun.")


class EditsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apiVersion: str = EDITS_API
    version: int = Field(default=0, ge=0, description="Set when stored: 1, 2, ... per job.")
    segments: dict[int, SegmentEdit] = Field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.segments


def parse_document(data: Any) -> EditsDocument:
    """An edits document from JSON-like data; :class:`EditsError` with every problem, readable."""
    if not isinstance(data, Mapping):
        raise EditsError(["an edits document is a JSON object"])
    if data.get("apiVersion", EDITS_API) != EDITS_API:
        raise EditsError([f"apiVersion must be {EDITS_API!r}, not {data.get('apiVersion')!r}"])
    segments = data.get("segments") or {}
    if isinstance(segments, Mapping) and len(segments) > MAX_EDITED_SEGMENTS:
        raise EditsError([f"{len(segments)} segments edited; at most {MAX_EDITED_SEGMENTS}"])
    try:
        document = EditsDocument.model_validate(data)
    except ValidationError as error:
        reasons = []
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"])
            reasons.append(f"{where}: {problem['msg']}")
        raise EditsError(reasons) from None
    return document


def check_against(document: EditsDocument, transcript: Transcript, languages: Iterable[str]) -> list[str]:
    """Every reason the document cannot be applied to this transcript and these target languages
    (unknown segment ids or languages, empty text, times out of order or overlapping); [] if none."""
    known = {segment.id: segment for segment in transcript.segments}
    targets = set(languages)
    reasons: list[str] = []
    if len(targets) > MAX_LANGUAGES:
        reasons.append(f"{len(targets)} languages; at most {MAX_LANGUAGES}")
    for ident, edit in sorted(document.segments.items()):
        if ident not in known:
            reasons.append(f"segment {ident}: no such segment (ids {_id_range(known)})")
            continue
        if edit.text is not None and not edit.text.strip():
            reasons.append(f"segment {ident}: the source text is empty")
        for language, text in sorted(edit.translations.items()):
            if language not in targets:
                reasons.append(f"segment {ident}: {language!r} is not a target language of the job")
            if not text.strip():
                reasons.append(f"segment {ident}: the {language} translation is empty")
            if len(text) > MAX_TEXT_CHARS:
                reasons.append(f"segment {ident}: the {language} translation is over {MAX_TEXT_CHARS} characters")
    if reasons:
        return reasons
    edited = apply_to_transcript(transcript, document)
    ordered = sorted(edited.segments, key=lambda s: (s.start, s.id))
    for segment in ordered:
        if segment.end <= segment.start:
            reasons.append(f"segment {segment.id}: ends ({segment.end:g} s) before it starts ({segment.start:g} s)")
        if transcript.duration and segment.end > float(transcript.duration) + 1e-6:
            reasons.append(f"segment {segment.id}: ends after the media ({float(transcript.duration):g} s)")
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start < before.end - 1e-6 and (before.id in document.segments or after.id in document.segments):
            reasons.append(
                f"segments {before.id} and {after.id} overlap ({before.start:g}-{before.end:g} s and "
                f"{after.start:g}-{after.end:g} s)"
            )
    return reasons


def validate(document: EditsDocument, transcript: Transcript, languages: Iterable[str]) -> EditsDocument:
    reasons = check_against(document, transcript, languages)
    if reasons:
        raise EditsError(reasons)
    return document


def _id_range(known: Mapping[int, Segment]) -> str:
    return f"{min(known)}-{max(known)}" if known else "none: the transcript is empty"


def _edited_segment(segment: Segment, edit: SegmentEdit | None, language: str | None) -> Segment:
    if edit is None:
        return segment
    changes: dict[str, Any] = {}
    if edit.text is not None:
        changes["text"] = edit.text
        changes["words"] = ()  # the recognised words no longer match the text
    if edit.speaker is not None:
        changes["speaker"] = edit.speaker
    if edit.start is not None:
        changes["start"] = float(edit.start)
    if edit.end is not None:
        changes["end"] = float(edit.end)
    if language is not None and language in edit.translations:
        changes["translation"] = edit.translations[language]
    return replace(segment, **changes) if changes else segment


def apply_to_transcript(transcript: Transcript, document: EditsDocument, language: str | None = None) -> Transcript:
    """The transcript (or translation, with ``language``) with the document's edits applied."""
    segments = tuple(_edited_segment(s, document.segments.get(s.id), language) for s in transcript.segments)
    return replace(transcript, segments=segments)


def source_slice(document: EditsDocument) -> EditsDocument:
    """What can change a translation: the source texts (translate's cache key includes this)."""
    kept = {ident: SegmentEdit(text=edit.text) for ident, edit in document.segments.items() if edit.text is not None}
    return EditsDocument(segments=kept)


def language_slice(document: EditsDocument, language: str) -> EditsDocument:
    """What can change one language's speech and subtitles: everything but other languages' translations."""
    kept = {}
    for ident, edit in document.segments.items():
        narrowed = edit.model_copy(
            update={"translations": {k: v for k, v in edit.translations.items() if k == language}}
        )
        if edit.locked or narrowed != SegmentEdit():  # an edit of other languages only is nothing here
            kept[ident] = narrowed
    return EditsDocument(segments=kept)


def slice_json(document: EditsDocument) -> dict[str, Any]:
    """A slice as stable JSON (no version: equal content, equal digest)."""
    data = document.model_dump(mode="json", exclude_defaults=True)
    data["apiVersion"] = EDITS_API
    data.pop("version", None)
    return data


def merged(base: EditsDocument, changes: EditsDocument) -> EditsDocument:
    """``base`` with ``changes`` laid over it, per segment and per field (a new, unversioned document)."""
    segments = dict(base.segments)
    for ident, edit in changes.segments.items():
        old = segments.get(ident)
        if old is None:
            segments[ident] = edit
            continue
        update = edit.model_dump(exclude_unset=True)
        update["translations"] = {**old.translations, **edit.translations}
        segments[ident] = old.model_copy(update=update)
    return EditsDocument(segments=segments)


def pin_locked(
    document: EditsDocument, transcript: Transcript, translations: Mapping[str, Transcript]
) -> EditsDocument:
    """Locked segments with the values they have now written in: speaker, times and each language's
    translation, so a rerun (a new translate backend, say) keeps them as they are.  The source text
    is left as it is unless edited: writing it in would change translate's input for nothing."""
    by_language = {lang: {s.id: s for s in t.segments} for lang, t in translations.items()}
    known = {s.id: s for s in transcript.segments}
    segments = dict(document.segments)
    for ident, edit in document.segments.items():
        segment = known.get(ident)
        if not edit.locked or segment is None:
            continue
        current = {
            lang: found[ident].translation
            for lang, found in by_language.items()
            if ident in found and found[ident].translation
        }
        segments[ident] = edit.model_copy(
            update={
                "speaker": edit.speaker or segment.speaker,
                "start": edit.start if edit.start is not None else segment.start,
                "end": edit.end if edit.end is not None else segment.end,
                "translations": {**current, **edit.translations},
            }
        )
    return document.model_copy(update={"segments": segments})
