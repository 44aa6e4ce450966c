"""Content-addressed cache keys for stage outputs (pure functions).

A stage's output is stored under a key that is a hash of everything that determines it:

- the stage name and the stage code's version (bumped when a stage's output format or
  algorithm changes, so old entries are not reused),
- the backend's identity (``Backend.identity()``: name, model, settings that change output),
- the stage's options (scheduling-only fields such as ``gpus`` or ``timeoutSeconds`` removed),
- the SHA-256 of each input file (not their names or where they live),
- for per-language stages, the languages the unit works on.

Equal keys mean "same work": the stored output is reused.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

#: Fields of every stage's options that do not change the output (only where/how long it runs).
SCHEDULING_FIELDS = frozenset({"gpus", "timeoutSeconds", "maxAttempts", "resources", "backend"})
KEY_LENGTH = 32  # hex characters (128 bits)


def _normalise(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 2**53:
            return int(value)  # 1.0 and 1 hash the same
        return repr(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def canonical_json(value: Any) -> str:
    """One stable text for a JSON-like value: sorted keys, no spaces, floats normalised."""
    return json.dumps(_normalise(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def output_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that can change a stage's output."""
    return {k: v for k, v in options.items() if k not in SCHEDULING_FIELDS}


def key_material(
    stage: str,
    version: int,
    backend_identity: Mapping[str, Any],
    options: Mapping[str, Any],
    inputs: Mapping[str, str],
    languages: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What the key is a hash of (recorded in the manifest, so a key can be explained)."""
    return {
        "stage": stage,
        "version": int(version),
        "backend": dict(backend_identity),
        "options": output_options(options),
        "inputs": {name: digest for name, digest in sorted(inputs.items())},
        "languages": dict(languages or {}),
    }


def key_of(material: Mapping[str, Any]) -> str:
    """The cache key of some :func:`key_material`."""
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()[:KEY_LENGTH]


def cache_key(
    stage: str,
    version: int,
    backend_identity: Mapping[str, Any],
    options: Mapping[str, Any],
    inputs: Mapping[str, str],
    languages: Mapping[str, str] | None = None,
) -> str:
    return key_of(key_material(stage, version, backend_identity, options, inputs, languages))
