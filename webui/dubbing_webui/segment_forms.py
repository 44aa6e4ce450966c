"""The segment editor's decisions (pure): what a submitted form changes, which review pause a
job is in and the patch that approves it, and which span of audio a segment plays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from dubbing.api.v1alpha1 import STAGES
from dubbing.edits import EditsDocument, EditsError, SegmentEdit

#: The longest span a segment's audio route cuts (seconds): a segment is a sentence or two.
MAX_CLIP_S = 30.0
#: Phases after which a job can be rerun with the edits ("Save and rerun").
FINISHED = ("Succeeded", "Failed", "Cancelled")
AWAITING_REVIEW = "AwaitingReview"


def speakers_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The job's speakers, in the order they first speak."""
    return list(dict.fromkeys(str(row["speaker"]) for row in sorted(rows, key=lambda r: (r["start"], r["id"]))))


def changes_from_form(
    rows: Sequence[Mapping[str, Any]], form: Mapping[str, str], speakers: Sequence[str]
) -> EditsDocument:
    """The edits a submitted editor form makes to ``rows`` (the segments as shown): a field
    differs from what was shown, or a lock was set or cleared.  Fields name segments and
    languages (``text-3``, ``tr-3-pt-BR``, ``speaker-3``, ``locked-3``, ``shown-3``); a field of a
    segment the page did not show, or a speaker not of the job, is refused with every reason."""
    by_id = {int(row["id"]): row for row in rows}
    reasons: list[str] = []
    shown: set[int] = set()
    for field in form:
        if field.startswith("shown-"):
            ident = _ident(field.removeprefix("shown-"))
            if ident is None or ident not in by_id:
                reasons.append(f"{field}: no such segment (reload the page: the segments changed)")
            else:
                shown.add(ident)
    segments: dict[int, SegmentEdit] = {}
    for ident in sorted(shown):
        row = by_id[ident]
        fields: dict[str, Any] = {}
        text = form.get(f"text-{ident}")
        if text is not None and text.strip() != str(row["text"]).strip():
            fields["text"] = text.strip()
        translations = {}
        for language, current in (row.get("translations") or {}).items():
            value = form.get(f"tr-{ident}-{language}")
            if value is not None and value.strip() != (current or "").strip():
                translations[language] = value.strip()
        if translations:
            fields["translations"] = translations
        speaker = form.get(f"speaker-{ident}")
        if speaker is not None and speaker != row["speaker"]:
            if speaker not in speakers:
                reasons.append(f"segment {ident}: {speaker!r} is not one of the job's speakers ({', '.join(speakers)})")
            else:
                fields["speaker"] = speaker
        locked = form.get(f"locked-{ident}") == "on"
        if locked != bool(row.get("locked")):
            fields["locked"] = locked
        if fields:
            try:
                segments[ident] = SegmentEdit(**fields)
            except ValidationError as error:
                reasons.extend(f"segment {ident}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    if reasons:
        raise EditsError(reasons)
    return EditsDocument(segments=segments)


def _ident(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 9 else None


def paused_stage(obj: Mapping[str, Any]) -> str | None:
    """The stage a job waits for review after (None when it does not wait)."""
    status = obj.get("status") or {}
    if status.get("phase") != AWAITING_REVIEW:
        return None
    review = (obj.get("spec") or {}).get("review") or {}
    after, approved = review.get("after") or [], review.get("approved") or []
    done = {s.get("name") for s in status.get("stages") or [] if s.get("phase") == "Succeeded"}
    for stage in STAGES:
        if stage in after and stage not in approved and stage in done:
            return stage
    return None


def approve_patch(obj: Mapping[str, Any], stage: str) -> dict[str, Any]:
    """The merge patch that approves ``stage`` (only if the job is unchanged meanwhile)."""
    review = (obj.get("spec") or {}).get("review") or {}
    approved = list(review.get("approved") or [])
    return {
        "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
        "spec": {"review": {**review, "approved": [*approved, stage] if stage not in approved else approved}},
    }


def clip_span(start: float, end: float, duration: float | None) -> tuple[float, float]:
    """The ``(offset, length)`` of a segment's audio: its span, within the media, at most
    :data:`MAX_CLIP_S` long."""
    offset = max(0.0, float(start))
    stop = float(end) if duration is None else min(float(end), float(duration))
    length = min(MAX_CLIP_S, max(0.0, stop - offset))
    if length <= 0.0:
        raise EditsError([f"the segment's span {start:g}-{end:g} s holds no audio"])
    return offset, length
