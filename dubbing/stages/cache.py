"""The cache algorithm of one unit of work.

The cache key comes from the stage, its version, the backend's identity, the options,
the inputs' digests and the languages (:mod:`dubbing.stages.cachekey`). When
``cache/<stage>/<key>/manifest.json`` exists and every output it lists is there, that
is a hit and nothing is recomputed; otherwise the work runs in scratch space, every
output is uploaded, and the manifest is written LAST: an entry without a manifest is
never taken as complete (and a failed attempt removes what it uploaded).
"""

from __future__ import annotations

import contextlib
import platform
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import __version__
from ..artifacts import ArtifactNotFound, ArtifactStore, sha256_file
from ..backends.base import Backend
from . import cachekey, layout
from .base import Stage
from .context import StageContext
from .datatypes import Ref, Unit, now_iso
from .media import tool_version
from .progress import Progress

MANIFEST_API = "dubbing.dev/stage-manifest/v1"


def _model_of(
    backend: Backend, identity: Mapping[str, Any], ctx: StageContext, options: Mapping[str, Any]
) -> str | None:
    model = identity.get("model") or identity.get("voice")
    if model:
        return str(model)
    try:
        return type(backend).readiness(ctx.backend_context, options).model
    except Exception:  # noqa: BLE001 - the model name is informative only
        return None


def _complete_manifest(store: ArtifactStore, manifest_key: str) -> dict[str, Any] | None:
    """The entry's manifest if the entry is complete: the manifest exists and so does every output it lists."""
    try:
        manifest = store.get_json(manifest_key)
    except ArtifactNotFound:
        return None
    except (ValueError, UnicodeDecodeError):
        return None  # unreadable manifest: redo the work
    for ref in (manifest.get("outputs") or {}).values():
        info = store.stat(ref["key"])
        if info is None or info.size != int(ref["size"]):
            return None
    return manifest


def run_unit(stage: Stage, ctx: StageContext, language: str | None, progress: Progress) -> dict[str, Any]:
    """One unit of work (cache lookup, work, upload, manifest); returns its per-job index entry."""
    started = time.monotonic()
    inputs = stage.inputs(ctx, language)
    options = stage.backend_options(ctx, language, inputs)
    requested = stage.requested_backend(ctx, language, inputs)
    backend = ctx.backend(stage.name, requested, options)
    identity = backend.identity()
    model = _model_of(backend, identity, ctx, options)
    digests = {name: ref.sha256 for name, ref in inputs.items()}
    material = cachekey.key_material(
        stage.name, stage.version, identity, options, digests, stage.key_languages(ctx, language, inputs)
    )
    key = cachekey.key_of(material)
    manifest_key = layout.manifest_key(stage.name, key)
    where = f" [{language}]" if language else ""

    manifest = _complete_manifest(ctx.store, manifest_key)
    hit = manifest is not None
    if manifest is not None:
        progress.update(100.0, f"cache hit{where}: {layout.cache_prefix(stage.name, key)}")
    else:
        progress.update(0.0, f"running {backend.name}{where}")
        out_dir = ctx.work_dir / "out" / stage.name / (language or layout.NO_LANGUAGE)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        unit = Unit(stage.name, language, backend, dict(options), inputs, key, out_dir, progress)
        result = stage.run(ctx, unit)
        wall = time.monotonic() - started
        manifest = {
            "apiVersion": MANIFEST_API,
            "stage": stage.name,
            "key": key,
            "language": language,
            "job": {"namespace": ctx.namespace, "name": ctx.name, "uid": ctx.job.metadata.uid},
            "backend": {"name": backend.name, "model": model, "identity": identity, "requested": requested},
            "options": cachekey.output_options(options),
            "keyMaterial": material,
            "inputs": {name: ref.as_dict() for name, ref in inputs.items()},
            "metrics": result.metrics,
            "tools": {
                "dubbing": __version__,
                "python": platform.python_version(),
                "ffmpeg": tool_version("ffmpeg"),
                "host": platform.node(),
                "device": ctx.backend_context.device,
            },
        }
        _store_entry(ctx.store, key, result.outputs, manifest, unit, started)
        progress.update(100.0, f"done{where} in {wall:.1f} s")
    return {
        "key": key,
        "manifest": manifest_key,
        "cacheHit": hit,
        "backend": backend.name,
        "model": model,
        "outputs": manifest["outputs"],
        "metrics": manifest.get("metrics", {}),
        "durationSeconds": round(time.monotonic() - started, 3),
    }


def _store_entry(
    store: ArtifactStore, key: str, outputs: Mapping[str, Path], manifest: dict[str, Any], unit: Unit, started: float
) -> None:
    """Upload every output, then the manifest (last); on failure remove what was uploaded."""
    stage = unit.stage
    work = time.monotonic() - started
    uploaded: dict[str, Ref] = {}
    manifest_key = layout.manifest_key(stage, key)
    try:
        with unit.step("upload"):
            for name, path in sorted(outputs.items()):
                info = store.put_file(layout.cache_object(stage, key, name), Path(path))
                uploaded[name] = Ref(info.key, info.sha256 or sha256_file(Path(path)), info.size)
        manifest["outputs"] = {name: ref.as_dict() for name, ref in uploaded.items()}
        manifest["timings"] = {
            "wallSeconds": round(time.monotonic() - started, 3),
            "workSeconds": round(work, 3),
            "steps": dict(unit.steps),
        }
        manifest["createdAt"] = now_iso()
        store.put_json(manifest_key, manifest)
    except BaseException:
        with contextlib.suppress(Exception):
            if not store.exists(manifest_key):
                store.delete_prefix(layout.cache_prefix(stage, key) + "/")
        raise
