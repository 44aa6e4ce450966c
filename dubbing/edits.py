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

The document's ``structure`` merges neighbouring segments and splits segments, in order, each
under new ids that no segment or other operation ever had (:func:`fresh_ids`).  Applying a
document does the structure first, then the per-segment edits, which name segments as they
are after it.  An operation whose segments are all gone is skipped, so applying a document to
its own result changes nothing: tts and mux, whose translation already went through it in
translate, see the same segments as translate did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import segmentops
from .segments import Segment, Transcript

EDITS_API = "dubbing.dev/edits/v1"
#: Bounds: an edits document is small and human-made.
MAX_EDITED_SEGMENTS = 10_000
MAX_TEXT_CHARS = 2_000
MAX_LANGUAGES = 32
MAX_OPERATIONS = 1_000
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


SegmentId = Annotated[int, Field(ge=0, le=2**31 - 1)]


class MergeOp(BaseModel):
    """Two neighbouring segments become one, ``into``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["merge"]
    ids: tuple[SegmentId, SegmentId]
    into: SegmentId

    def consumed(self) -> tuple[int, ...]:
        return self.ids

    def produced(self) -> tuple[int, ...]:
        return (self.into,)

    def describe(self) -> str:
        return f"merged into {self.into}"


class SplitOp(BaseModel):
    """Segment ``id`` becomes ``into[0]`` (up to ``at`` seconds) and ``into[1]`` (from ``at``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["split"]
    id: SegmentId
    at: float = Field(gt=0.0, allow_inf_nan=False)
    into: tuple[SegmentId, SegmentId]

    def consumed(self) -> tuple[int, ...]:
        return (self.id,)

    def produced(self) -> tuple[int, ...]:
        return self.into

    def describe(self) -> str:
        return f"split into {self.into[0]} and {self.into[1]}"


Operation = Annotated[MergeOp | SplitOp, Field(discriminator="op")]


class EditsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apiVersion: str = EDITS_API
    version: int = Field(default=0, ge=0, description="Set when stored: 1, 2, ... per job.")
    structure: list[Operation] = Field(
        default_factory=list, max_length=MAX_OPERATIONS, description="Merges and splits, applied in order."
    )
    segments: dict[int, SegmentEdit] = Field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.segments and not self.structure


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


def _ordered(segments: Iterable[Segment]) -> list[Segment]:
    return sorted(segments, key=lambda s: (s.start, s.id))


def _neighbours(segments: list[Segment], first: int, second: int) -> bool:
    order = [s.id for s in _ordered(segments)]
    return abs(order.index(first) - order.index(second)) == 1


def _apply_operation(segments: list[Segment], operation: MergeOp | SplitOp) -> list[Segment]:
    """``segments`` with ``operation`` done (the caller has checked that it applies)."""
    by_id = {s.id: s for s in segments}
    if isinstance(operation, MergeOp):
        first, second = _ordered(by_id[i] for i in operation.ids)
        joined = segmentops.merge(first, second, operation.into)
        out: list[Segment] = []
        for segment in segments:
            if segment.id == first.id:
                out.append(joined)
            elif segment.id != second.id:
                out.append(segment)
        return out
    pieces = segmentops.split(by_id[operation.id], operation.at, operation.into)
    out = []
    for segment in segments:
        out.extend(pieces if segment.id == operation.id else (segment,))
    return out


def _operation_reasons(segments: list[Segment], operation: MergeOp | SplitOp, used: set[int]) -> list[str]:
    """Why ``operation`` cannot be done to ``segments`` (``used``: every id seen so far); [] if it can."""
    present = {s.id: s for s in segments}
    reasons: list[str] = []
    name = f"{operation.op} of {', '.join(str(i) for i in operation.consumed())}"
    if len(set(operation.consumed())) != len(operation.consumed()):
        reasons.append(f"{name}: a segment cannot be merged with itself")
    missing = [i for i in operation.consumed() if i not in present]
    for ident in missing:
        reasons.append(f"{name}: no segment {ident} at this point")
    if len(set(operation.produced())) != len(operation.produced()):
        reasons.append(f"{name}: the new ids must differ")
    for ident in operation.produced():
        if ident in used:
            reasons.append(f"{name}: the new id {ident} is taken (new ids are never used before)")
    if reasons:
        return reasons
    if isinstance(operation, MergeOp):
        if not _neighbours(segments, *operation.ids):
            reasons.append(f"{name}: segments {operation.ids[0]} and {operation.ids[1]} are not neighbours")
        return reasons
    segment = present[operation.id]
    low, high = segment.start + segmentops.MIN_PIECE_S, segment.end - segmentops.MIN_PIECE_S
    if not low <= operation.at <= high:
        reasons.append(
            f"{name}: {operation.at:g} s is not inside the segment ({segment.start:g}-{segment.end:g} s, "
            f"at least {segmentops.MIN_PIECE_S:g} s from either end)"
        )
    elif len(segment.text.split()) < 2:
        reasons.append(f"{name}: the segment has fewer than two words to share out")
    return reasons


def _walk(
    transcript: Transcript, structure: Iterable[MergeOp | SplitOp]
) -> tuple[list[Segment], list[str], dict[int, str]]:
    """The operations done in order, each that applies: the segments after them, why the others
    do not apply, and each id an operation took with what became of it."""
    segments = list(transcript.segments)
    used = {s.id for s in segments}
    reasons: list[str] = []
    gone: dict[int, str] = {}
    for number, operation in enumerate(structure, start=1):
        problems = _operation_reasons(segments, operation, used)
        used.update(operation.consumed())
        used.update(operation.produced())
        if problems:
            reasons.extend(f"structure[{number}] {problem}" for problem in problems)
            continue
        segments = _apply_operation(segments, operation)
        gone.update(dict.fromkeys(operation.consumed(), operation.describe()))
    return segments, reasons, gone


def structure_reasons(transcript: Transcript, structure: Iterable[MergeOp | SplitOp]) -> list[str]:
    """Every reason the merges and splits cannot be done, in order, to the transcript; [] if none.
    An operation refused is left out for the ones after it."""
    return _walk(transcript, structure)[1]


def restructure(transcript: Transcript, structure: Iterable[MergeOp | SplitOp]) -> Transcript:
    """The transcript with the merges and splits done; an operation that does not apply (its
    segments are gone: done already, or a new transcript) is skipped."""
    return replace(transcript, segments=tuple(_walk(transcript, structure)[0]))


def check_against(document: EditsDocument, transcript: Transcript, languages: Iterable[str]) -> list[str]:
    """Every reason the document cannot be applied to this transcript and these target languages
    (operations that do not apply, unknown segment ids or languages, empty text, times out of
    order or overlapping); [] if none."""
    segments, reasons, gone = _walk(transcript, document.structure)
    known = {segment.id: segment for segment in segments}
    targets = set(languages)
    if len(targets) > MAX_LANGUAGES:
        reasons.append(f"{len(targets)} languages; at most {MAX_LANGUAGES}")
    for ident, edit in sorted(document.segments.items()):
        if ident not in known:
            if ident in gone:
                reasons.append(f"segment {ident}: it was {gone[ident]}; edit that instead")
            else:
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
    ordered = _ordered(edited.segments)
    changed = set(document.segments) | {i for op in document.structure for i in op.produced()}
    for segment in ordered:
        if segment.end <= segment.start:
            reasons.append(f"segment {segment.id}: ends ({segment.end:g} s) before it starts ({segment.start:g} s)")
        if transcript.duration and segment.end > float(transcript.duration) + 1e-6:
            reasons.append(f"segment {segment.id}: ends after the media ({float(transcript.duration):g} s)")
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start < before.end - 1e-6 and (before.id in changed or after.id in changed):
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
    """The transcript (or translation, with ``language``) with the document's merges and splits
    done, then its segment edits applied."""
    restructured = restructure(transcript, document.structure)
    segments = tuple(_edited_segment(s, document.segments.get(s.id), language) for s in restructured.segments)
    return replace(transcript, segments=segments)


def source_slice(document: EditsDocument) -> EditsDocument:
    """What can change a translation: the merges and splits, and the source texts (translate's
    cache key includes this)."""
    kept = {ident: SegmentEdit(text=edit.text) for ident, edit in document.segments.items() if edit.text is not None}
    return EditsDocument(structure=list(document.structure), segments=kept)


def language_slice(document: EditsDocument, language: str) -> EditsDocument:
    """What can change one language's speech and subtitles: everything but other languages' translations."""
    kept = {}
    for ident, edit in document.segments.items():
        narrowed = edit.model_copy(
            update={"translations": {k: v for k, v in edit.translations.items() if k == language}}
        )
        if edit.locked or narrowed != SegmentEdit():  # an edit of other languages only is nothing here
            kept[ident] = narrowed
    return EditsDocument(structure=list(document.structure), segments=kept)


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
    return EditsDocument(structure=[*base.structure, *changes.structure], segments=segments)


def pin_locked(
    document: EditsDocument, transcript: Transcript, translations: Mapping[str, Transcript]
) -> EditsDocument:
    """Locked segments with the values they have now written in: speaker, times and each language's
    translation, so a rerun (a new translate backend, say) keeps them as they are.  The source text
    is left as it is unless edited: writing it in would change translate's input for nothing."""
    by_language = {lang: {s.id: s for s in t.segments} for lang, t in translations.items()}
    known = {s.id: s for s in restructure(transcript, document.structure).segments}
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


# ------------------------------------------------------------------ merging and splitting in a document


def fresh_ids(document: EditsDocument, transcript: Transcript, count: int) -> list[int]:
    """``count`` ids no segment, operation or edit of the document has ever had."""
    seen = {s.id for s in transcript.segments} | set(document.segments)
    for operation in document.structure:
        seen.update(operation.consumed())
        seen.update(operation.produced())
    start = max(seen, default=-1) + 1
    return list(range(start, start + count))


def _effective(
    document: EditsDocument, transcript: Transcript, translations: Mapping[str, Transcript]
) -> tuple[dict[int, Segment], dict[str, dict[int, Segment]]]:
    source = {s.id: s for s in apply_to_transcript(transcript, document).segments}
    by_language = {
        language: {s.id: s for s in apply_to_transcript(t, document, language).segments}
        for language, t in translations.items()
    }
    return source, by_language


M = TypeVar("M", bound=BaseModel)


def _model(kind: type[M], what: str, **fields: Any) -> M:
    try:
        return kind(**fields)
    except ValidationError as error:
        raise EditsError(f"{what}: {'.'.join(map(str, p['loc']))} {p['msg']}" for p in error.errors()) from None


def _present(source: Mapping[int, Segment], *ids: int) -> None:
    missing = [f"segment {i}: no such segment (ids {_id_range(source)})" for i in ids if i not in source]
    if missing:
        raise EditsError(missing)


def with_merge(
    document: EditsDocument,
    transcript: Transcript,
    translations: Mapping[str, Transcript],
    first: int,
    second: int,
) -> EditsDocument:
    """``document`` with segments ``first`` and ``second`` merged under a fresh id: the edits of
    the two become the merged segment's (an edited text joined with the other's current text;
    the translations, edited or not, joined), so nothing edited is lost and no edit names a
    segment that is gone.  Not yet checked: see :func:`validate`."""
    source, by_language = _effective(document, transcript, translations)
    _present(source, first, second)
    a, b = _ordered([source[first], source[second]])
    (into,) = fresh_ids(document, transcript, 1)
    old_a, old_b = document.segments.get(a.id) or SegmentEdit(), document.segments.get(b.id) or SegmentEdit()
    fields: dict[str, Any] = {"locked": old_a.locked or old_b.locked}
    if old_a.text is not None or old_b.text is not None:
        fields["text"] = segmentops.join_texts(a.text, b.text)
    # every translation the two have (edited or made by translate) is joined and kept: the merged
    # segment says the same on every later run, whether translate runs again or not
    fields["translations"] = {}
    for language in sorted({*old_a.translations, *old_b.translations, *by_language}):
        found = by_language.get(language, {})
        joined = segmentops.join_texts(
            found[a.id].translation if a.id in found else old_a.translations.get(language),
            found[b.id].translation if b.id in found else old_b.translations.get(language),
        )
        if joined:
            fields["translations"][language] = joined
    if old_a.speaker is not None:
        fields["speaker"] = old_a.speaker
    if old_a.start is not None:
        fields["start"] = old_a.start
    if old_b.end is not None:
        fields["end"] = old_b.end
    segments = {i: e for i, e in document.segments.items() if i not in (a.id, b.id)}
    edit = _model(SegmentEdit, f"segment {into}", **fields)
    if edit != SegmentEdit():
        segments[into] = edit
    operation = _model(MergeOp, "merge", op="merge", ids=(a.id, b.id), into=into)
    return EditsDocument(structure=[*document.structure, operation], segments=segments)


def with_split(
    document: EditsDocument,
    transcript: Transcript,
    translations: Mapping[str, Transcript],
    ident: int,
    at: float,
) -> EditsDocument:
    """``document`` with segment ``ident`` split at ``at`` seconds under two fresh ids: its edits
    go to the pieces (an edited text cut as the split cuts it, each translation, edited or not,
    at the same share of its words, the speaker and lock to both, an edited start to the first,
    an edited end to the second).  Not yet checked: see :func:`validate`."""
    source, by_language = _effective(document, transcript, translations)
    _present(source, ident)
    segment = source[ident]
    into = fresh_ids(document, transcript, 2)
    old = document.segments.get(ident) or SegmentEdit()
    span = segment.end - segment.start
    fraction = (at - segment.start) / span if span > 0 else 0.5
    pieces: list[dict[str, Any]] = [{"locked": old.locked}, {"locked": old.locked}]
    if old.text is not None:
        cut = segmentops.split(segment, at, (into[0], into[1]))
        pieces[0]["text"], pieces[1]["text"] = cut[0].text, cut[1].text
    for piece in pieces:
        piece["translations"] = {}
        if old.speaker is not None:
            piece["speaker"] = old.speaker
    current = {lang: found[ident].translation for lang, found in by_language.items() if ident in found}
    for language, text in {**current, **old.translations}.items():
        if not text:
            continue
        first, second = segmentops.split_text(text, fraction)
        pieces[0]["translations"][language], pieces[1]["translations"][language] = first, second
    if old.start is not None:
        pieces[0]["start"] = old.start
    if old.end is not None:
        pieces[1]["end"] = old.end
    segments = {i: e for i, e in document.segments.items() if i != ident}
    for new_id, fields in zip(into, pieces, strict=True):
        edit = _model(SegmentEdit, f"segment {new_id}", **fields)
        if edit != SegmentEdit():
            segments[new_id] = edit
    operation = _model(SplitOp, "split", op="split", id=ident, at=at, into=(into[0], into[1]))
    return EditsDocument(structure=[*document.structure, operation], segments=segments)
