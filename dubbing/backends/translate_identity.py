"""Translation backend ``identity``: source and target are the same language, texts pass through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .base import BackendContext, Readiness, Translator
from .languages import SOURCE_LANGUAGE_OPTION, TARGET_LANGUAGE_OPTION, same_language


class IdentityTranslator(Translator):
    name: ClassVar[str] = "identity"
    glossary_mode: ClassVar[str] = "none"

    @classmethod
    def supports(cls, source: str, target: str) -> bool | str:
        """True, or why not."""
        if same_language(source, target):
            return True
        return f"identity only serves one language to itself, not {source}→{target}"

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        source, target = options.get(SOURCE_LANGUAGE_OPTION), options.get(TARGET_LANGUAGE_OPTION)
        if source and target:
            verdict = cls.supports(str(source), str(target))
            if verdict is not True:
                return Readiness(cls.stage, cls.name, installed=True, ready=False, reason=str(verdict))
        return Readiness(cls.stage, cls.name, installed=True, ready=True)

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        verdict = self.supports(source, target)
        if verdict is not True:
            raise ValueError(verdict)
        return list(texts)
