"""A job's segment edits in the artifact store, and how stages take them in.

Each save writes a new version (``jobs/<ns>/<name>/edits/v<N>.json``) after its slices
(``.../v<N>/source.json``, ``.../v<N>/<lang>.json``): a version whose document exists is
complete.  The newest version applies.  A stage that edits can change declares the slice it
reads as an input (``edits.json``), so the slice's digest is part of its cache key: an edit
reruns only the stages whose slice changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ..artifacts import ArtifactNotFound, ArtifactStore
from ..edits import (
    EditsDocument,
    EditsError,
    apply_to_transcript,
    language_slice,
    merged,
    parse_document,
    pin_locked,
    slice_json,
    source_slice,
    validate,
)
from ..segments import Transcript
from . import layout
from .datatypes import Ref

if TYPE_CHECKING:
    from .context import StageContext

#: The input name under which a stage receives its slice of the edits.
EDITS_INPUT = "edits.json"
SOURCE_SLICE = "source"
#: Versions kept per job (the newest applies; older ones are history, dropped beyond this many).
KEEP_VERSIONS = 50


def versions(store: ArtifactStore, namespace: str, name: str) -> list[int]:
    prefix = layout.job_edits_prefix(namespace, name) + "/"
    found = {layout.edits_version_of(info.key) for info in store.list(prefix)}
    return sorted(v for v in found if v is not None)


def load(store: ArtifactStore, namespace: str, name: str, version: int | None = None) -> EditsDocument | None:
    """The given version (the newest when None); None when the job has no edits."""
    if version is None:
        known = versions(store, namespace, name)
        if not known:
            return None
        version = known[-1]
    try:
        data = store.get_json(layout.job_edits_key(namespace, name, version))
    except ArtifactNotFound:
        return None
    return parse_document(data)


def save(
    store: ArtifactStore,
    namespace: str,
    name: str,
    changes: EditsDocument,
    transcript: Transcript,
    languages: Iterable[str],
    replace_all: bool = False,
    translations: Mapping[str, Transcript] | None = None,
) -> EditsDocument:
    """Lay ``changes`` over the newest version (or replace it), check the result against the
    job's transcript and languages, and store it as the next version (locked segments with their
    current values, from ``translations``, written in).  Nothing is stored when
    the result is refused (:class:`EditsError` with every reason)."""
    targets = list(dict.fromkeys(languages))
    current = None if replace_all else load(store, namespace, name)
    document = changes if current is None else merged(current, changes)
    document = pin_locked(document, transcript, translations or {})
    validate(document, transcript, targets)
    version = (versions(store, namespace, name) or [0])[-1] + 1
    document = document.model_copy(update={"version": version})
    slices = {SOURCE_SLICE: source_slice(document), **{lang: language_slice(document, lang) for lang in targets}}
    for slice_name, part in slices.items():
        store.put_json(layout.job_edits_slice_key(namespace, name, version, slice_name), slice_json(part))
    store.put_json(layout.job_edits_key(namespace, name, version), document.model_dump(mode="json"))
    for old in versions(store, namespace, name)[:-KEEP_VERSIONS]:
        store.delete(layout.job_edits_key(namespace, name, old))  # the document first: the version is gone
        store.delete_prefix(layout.job_edits_slices_prefix(namespace, name, old) + "/")
    return document


def slice_input(store: ArtifactStore, namespace: str, name: str, slice_name: str) -> dict[str, Ref]:
    """``{"edits.json": ref}`` for the newest version's slice when it edits anything, else ``{}``
    (a job without edits keeps the cache keys it always had)."""
    known = versions(store, namespace, name)
    if not known:
        return {}
    key = layout.job_edits_slice_key(namespace, name, known[-1], slice_name)
    try:
        data = store.get_bytes(key)
    except ArtifactNotFound:
        return {}  # a language added after the edits were saved: nothing edited there
    if parse_document(json.loads(data.decode("utf-8"))).is_empty():
        return {}
    return {EDITS_INPUT: Ref(key, hashlib.sha256(data).hexdigest(), len(data))}


def read_slice(text: str) -> EditsDocument:
    try:
        return parse_document(json.loads(text))
    except json.JSONDecodeError as error:
        raise EditsError([f"the edits slice is not JSON: {error}"]) from None


def edited(transcript: Transcript, slice_text: str | None, language: str | None = None) -> Transcript:
    """``transcript`` with a stage's slice applied (unchanged when the stage has no slice)."""
    if slice_text is None:
        return transcript
    return apply_to_transcript(transcript, read_slice(slice_text), language)


def stage_slice(ctx: StageContext, slice_name: str) -> dict[str, Ref]:
    """The edits input of a stage of this job (see :func:`slice_input`)."""
    return slice_input(ctx.store, ctx.namespace, ctx.name, slice_name)


def edited_input(ctx: StageContext, inputs: Mapping[str, Ref], name: str, language: str | None = None) -> Transcript:
    """The transcript/translation input ``name`` of a unit, with the unit's edits slice applied."""
    transcript = Transcript.from_dict(json.loads(ctx.fetch(inputs[name]).read_text(encoding="utf-8")))
    ref = inputs.get(EDITS_INPUT)
    return edited(transcript, ctx.fetch(ref).read_text(encoding="utf-8") if ref else None, language)


def job_segments(store: ArtifactStore, namespace: str, name: str) -> tuple[Transcript, dict[str, Transcript]]:
    """What the job's stages produced, before edits: the transcript and each language's translation.

    :class:`EditsError` when the job has not been transcribed yet (there is nothing to edit)."""

    def index(stage: str) -> dict | None:
        try:
            return store.get_json(layout.job_index_key(namespace, name, stage))
        except ArtifactNotFound:
            return None

    asr = index("asr")
    if asr is None:
        raise EditsError([f"job {namespace}/{name} has no transcript yet (asr has not run) in {store.url()}"])
    transcript = Transcript.from_dict(
        store.get_json(asr["entries"][layout.NO_LANGUAGE]["outputs"]["transcript.json"]["key"])
    )
    translations: dict[str, Transcript] = {}
    for language, entry in ((index("translate") or {}).get("entries") or {}).items():
        translations[language] = Transcript.from_dict(store.get_json(entry["outputs"]["translation.json"]["key"]))
    return transcript, translations
