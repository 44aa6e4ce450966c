"""The stage plan of a job: which stages, which backend was asked for, options, languages. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..api.v1alpha1 import BACKENDS, PER_LANGUAGE_STAGES, STAGES, DubbingJobSpec


@dataclass(frozen=True)
class StagePlan:
    stage: str
    backend: str  # as requested ("auto" or a name)
    options: Mapping[str, Any]  # the stage's options, defaults filled in (backend included)
    languages: tuple[str, ...]  # target languages for per-language stages, () otherwise

    @property
    def per_language(self) -> bool:
        return self.stage in PER_LANGUAGE_STAGES


def target_languages(spec: DubbingJobSpec) -> tuple[str, ...]:
    """Target languages without duplicates, in the order given."""
    seen: list[str] = []
    for language in spec.targetLanguages:
        if language not in seen:
            seen.append(language)
    return tuple(seen)


def stage_options(spec: DubbingJobSpec, stage: str) -> dict[str, Any]:
    return spec.stages.for_stage(stage).model_dump(mode="json", exclude_none=True)


def plan_job(spec: DubbingJobSpec, stages: Sequence[str] = STAGES) -> list[StagePlan]:
    languages = target_languages(spec)
    plans = []
    for stage in stages:
        options = stage_options(spec, stage)
        plans.append(
            StagePlan(
                stage, str(options.get("backend", "auto")), options, languages if stage in PER_LANGUAGE_STAGES else ()
            )
        )
    return plans


def parse_assignments(items: Iterable[str], what: str) -> list[tuple[str, str]]:
    """``["asr=faster-whisper", ...]`` → pairs; ValueError naming the bad item."""
    pairs = []
    for item in items:
        if "=" not in item:
            raise ValueError(f"{what} {item!r}: expected NAME=VALUE")
        name, value = item.split("=", 1)
        name, value = name.strip(), value.strip()
        if not name or not value:
            raise ValueError(f"{what} {item!r}: expected NAME=VALUE")
        pairs.append((name, value))
    return pairs


def _scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered in {"null", "none"}:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if "," in text:
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def apply_overrides(
    stages: Mapping[str, Any], backends: Iterable[str] = (), options: Iterable[str] = ()
) -> dict[str, Any]:
    """``spec.stages`` (as a dict) with ``stage=backend`` and ``stage.key=value`` overrides applied.

    The result is validated when the job is parsed; unknown stages are refused here.
    """
    result = {stage: dict(value or {}) for stage, value in stages.items()}
    for stage, backend in parse_assignments(backends, "--backend"):
        if stage not in BACKENDS:
            raise ValueError(f"--backend {stage}={backend}: unknown stage (stages: {', '.join(STAGES)})")
        if backend not in BACKENDS[stage]:
            raise ValueError(f"--backend {stage}={backend}: unknown backend (choices: {', '.join(BACKENDS[stage])})")
        result.setdefault(stage, {})["backend"] = backend
    for name, value in parse_assignments(options, "--option"):
        if "." not in name:
            raise ValueError(f"--option {name}={value}: expected STAGE.KEY=VALUE")
        stage, key = name.split(".", 1)
        if stage not in BACKENDS:
            raise ValueError(f"--option {name}={value}: unknown stage (stages: {', '.join(STAGES)})")
        result.setdefault(stage, {})[key] = _scalar(value)
    return result
