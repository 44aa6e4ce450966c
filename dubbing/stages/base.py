"""The base class of the pipeline's stages, and the lookup of a stage's class by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..api.v1alpha1 import STAGES
from .context import StageContext
from .datatypes import Ref, Unit, UnitResult
from .errors import InputError


class Stage:
    """One pipeline stage. Subclasses say what their inputs are and do the work in :meth:`run`."""

    name: ClassVar[str]
    #: Bump when the stage's outputs change for the same inputs (invalidates old cache entries).
    version: ClassVar[int] = 1

    def inputs(self, ctx: StageContext, language: str | None) -> dict[str, Ref]:
        raise NotImplementedError

    def backend_options(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> dict[str, Any]:
        return ctx.options(self.name)

    def requested_backend(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> str:
        return ctx.requested_backend(self.name)

    def key_languages(self, ctx: StageContext, language: str | None, inputs: Mapping[str, Ref]) -> dict[str, str]:
        return {"target": language} if language else {}

    def run(self, ctx: StageContext, unit: Unit) -> UnitResult:
        raise NotImplementedError

    def publish(self, ctx: StageContext, language: str | None, outputs: Mapping[str, Ref]) -> dict[str, str]:
        """Copy final files out of the cache (mux, score); returns name → published key."""
        return {}

    def summary_outputs(
        self, published: Mapping[str, Mapping[str, Any]], entries: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The termination summary's ``outputs`` (per language: published keys, index entries); None: the default."""
        return None

    def index_extra(self, ctx: StageContext) -> dict[str, Any]:
        return {}


def stage_class(name: str) -> type[Stage]:
    import importlib

    if name not in STAGES:
        raise InputError("UnknownStage", f"unknown stage {name!r}; stages are {', '.join(STAGES)}")
    module = importlib.import_module(f"dubbing.stages.{name}")
    return module.STAGE
