"""Where things live inside an artifact store (pure functions).

::

    <store prefix>/
      cache/<stage>/<key>/manifest.json        written LAST: the entry counts only once it exists
      cache/<stage>/<key>/<output files>       e.g. speech.wav, audio.wav, probe.json, clips/0003.wav
      jobs/<namespace>/<name>/<stage>.json     per-job index: which cache entries this job used
                                               (one per target language for translate/tts/mix/mux)
      jobs/<namespace>/<name>/outputs/<lang>/  the finished files, copied out of the cache:
                                               video.mp4|mkv, audio.wav, <lang>.srt/.vtt, <src>.srt/.vtt
      jobs/<namespace>/<name>/report.json      written by ``dubbing run`` (the operator writes its own)
      jobs/<namespace>/<name>/logs/<pod>.log   a stage Pod's stdout and stderr (bounded), stored at its end
      jobs/<namespace>/<name>/edits/v<N>.json  the user's segment edits, version N (newest applies)
      jobs/<namespace>/<name>/edits/v<N>/<slice>.json   what one stage sees of version N (source, <lang>)
      cache/tts-segment/<key>/clip.wav|clip.json   one synthesised segment (reused when its text,
                                               voice and options are unchanged)

``<key>`` is :func:`dubbing.stages.cachekey.cache_key`; the same work in another job
(or a rerun) finds the same entry.  A job's output location can be moved with
``spec.output.prefix`` (within the artifacts bucket) or ``spec.output.bucket``.
"""

from __future__ import annotations

from ..artifacts.base import join

MANIFEST = "manifest.json"
#: Key of the per-job index for a language-independent stage.
NO_LANGUAGE = "_"


def cache_prefix(stage: str, key: str) -> str:
    return join("cache", stage, key)


def cache_object(stage: str, key: str, name: str) -> str:
    return join("cache", stage, key, name)


def manifest_key(stage: str, key: str) -> str:
    return cache_object(stage, key, MANIFEST)


def job_prefix(namespace: str, name: str) -> str:
    return join("jobs", namespace or "default", name)


def job_index_key(namespace: str, name: str, stage: str) -> str:
    return join(job_prefix(namespace, name), f"{stage}.json")


def job_outputs_prefix(namespace: str, name: str, language: str | None = None, override: str | None = None) -> str:
    base = override.strip("/") if override else join(job_prefix(namespace, name), "outputs")
    return join(base, language) if language else base


def job_report_key(namespace: str, name: str) -> str:
    return join(job_prefix(namespace, name), "report.json")


EDITS_VERSION_DIGITS = 6


def job_edits_prefix(namespace: str, name: str) -> str:
    return join(job_prefix(namespace, name), "edits")


def job_edits_key(namespace: str, name: str, version: int) -> str:
    return join(job_edits_prefix(namespace, name), f"v{version:0{EDITS_VERSION_DIGITS}d}.json")


def job_edits_slices_prefix(namespace: str, name: str, version: int) -> str:
    return join(job_edits_prefix(namespace, name), f"v{version:0{EDITS_VERSION_DIGITS}d}")


def job_edits_slice_key(namespace: str, name: str, version: int, slice_name: str) -> str:
    return join(job_edits_slices_prefix(namespace, name, version), f"{slice_name}.json")


def edits_version_of(key: str) -> int | None:
    """The version of a ``.../edits/v<N>.json`` key; None for anything else (slices included)."""
    leaf = key.rsplit("/", 1)[-1]
    if len(leaf) == EDITS_VERSION_DIGITS + 6 and leaf.startswith("v") and leaf.endswith(".json"):
        digits = leaf[1:-5]
        if digits.isdigit():
            return int(digits)
    return None


SEGMENT_CLIP_STAGE = "tts-segment"


def job_log_key(namespace: str, name: str, pod: str) -> str:
    """A stage Pod's log, kept by the stage itself (the Pod may be deleted before anyone reads it)."""
    return join(job_prefix(namespace, name), "logs", f"{pod}.log")
