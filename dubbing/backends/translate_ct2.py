"""Translation backend ``ctranslate2``: a CTranslate2 NMT model folder from the model cache.

Folder: ``<model cache>/nmt/<model>/`` (the job's ``model`` option), else
``<model cache>/nmt/opus-mt-<src>-<tgt>/`` from the primary language subtags.  It holds
``model.bin`` plus a tokenizer (see :mod:`.nmt_tokenizer`), and optionally
``dubbing-nmt.json`` with ``source_prefix`` / ``source_suffix`` / ``target_prefix``
token lists (e.g. ``{"target_prefix": [">>por<<"]}`` for multi-target models).  With a
SentencePiece tokenizer the source ends with ``</s>`` unless ``source_suffix`` says
otherwise (the layout Hugging Face Marian conversions expect).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .base import BackendContext, Readiness, Translator, module_available
from .languages import SOURCE_LANGUAGE_OPTION, TARGET_LANGUAGE_OPTION, primary
from .nmt_tokenizer import load_codecs, required_module, tokenizer_files

SETTINGS_FILE = "dubbing-nmt.json"


def nmt_root(model_cache: Path) -> Path:
    return model_cache / "nmt"


def is_folder_name(model: str) -> bool:
    """A model option naming a folder of the model cache: one path component (an llm model id such as
    ``qwen2.5:7b`` or ``org/name`` is not one)."""
    return bool(model) and "/" not in model and ":" not in model and model not in (".", "..")


def candidate_folders(model_cache: Path, model: str | None, source: str | None, target: str | None) -> list[Path]:
    root = nmt_root(model_cache)
    if model:
        return [root / model] if is_folder_name(model) else []
    if source and target:
        names = [f"opus-mt-{primary(source)}-{primary(target)}", f"opus-mt-{source}-{target}"]
        return [root / name for name in dict.fromkeys(names)]
    return []


def folder_problem(folder: Path) -> str | None:
    """Why a model folder cannot be used, or None when it looks complete."""
    if not (folder / "model.bin").is_file():
        return f"weights absent: {folder / 'model.bin'}"
    found = tokenizer_files(folder)
    if found is None:
        return f"no tokenizer in {folder} (source.spm, spm.model or tokenizer.json)"
    if not module_available(required_module(found[0])):
        return f"module {required_module(found[0])} not installed"
    return None


@dataclass(frozen=True)
class TokenFrame:
    source_prefix: tuple[str, ...] = ()
    source_suffix: tuple[str, ...] = ()
    target_prefix: tuple[str, ...] = ()


def read_frame(folder: Path, tokenizer_kind: str) -> TokenFrame:
    settings: dict[str, Any] = {}
    if (folder / SETTINGS_FILE).is_file():
        settings = json.loads((folder / SETTINGS_FILE).read_text())
    default_suffix = ["</s>"] if tokenizer_kind == "sentencepiece" else []
    return TokenFrame(
        source_prefix=tuple(settings.get("source_prefix", [])),
        source_suffix=tuple(settings.get("source_suffix", default_suffix)),
        target_prefix=tuple(settings.get("target_prefix", [])),
    )


class CTranslate2Translator(Translator):
    name: ClassVar[str] = "ctranslate2"
    gpu_preferred: ClassVar[bool] = True

    @classmethod
    def locate(
        cls, context: BackendContext, options: Mapping[str, Any], source: str | None, target: str | None
    ) -> tuple[Path | None, str]:
        """(usable folder, "") or (None, why not)."""
        model = options.get("model")
        if model and not is_folder_name(str(model)):
            return None, f"model {model!r} is not a folder name of the model cache"
        candidates = candidate_folders(context.model_cache, model, source, target)
        if not candidates:
            return None, "no model named and no language pair given"
        problems = []
        for folder in candidates:
            problem = folder_problem(folder)
            if problem is None:
                return folder, ""
            problems.append(problem)
        return None, problems[0] if len(problems) == 1 else "; ".join(problems)

    @classmethod
    def supports(cls, context: BackendContext, options: Mapping[str, Any], source: str, target: str) -> bool | str:
        folder, reason = cls.locate(context, options, source, target)
        return True if folder is not None else reason

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        if not module_available("ctranslate2"):
            return Readiness(
                cls.stage,
                cls.name,
                installed=False,
                ready=False,
                reason="module ctranslate2 not installed",
                needs_gpu=False,
            )
        source, target = options.get(SOURCE_LANGUAGE_OPTION), options.get(TARGET_LANGUAGE_OPTION)
        if options.get("model") or (source and target):
            folder, reason = cls.locate(context, options, source, target)
            if folder is None:
                return Readiness(cls.stage, cls.name, installed=True, ready=False, reason=reason)
            return Readiness(
                cls.stage, cls.name, installed=True, ready=True, model=folder.name, details={"folder": str(folder)}
            )
        root = nmt_root(context.model_cache)
        usable = (
            sorted(f.name for f in root.iterdir() if f.is_dir() and folder_problem(f) is None) if root.is_dir() else []
        )
        if not usable:
            return Readiness(
                cls.stage,
                cls.name,
                installed=True,
                ready=False,
                reason=f"weights absent: no CTranslate2 model in {root}",
            )
        return Readiness(
            cls.stage, cls.name, installed=True, ready=True, model=", ".join(usable), details={"models": usable}
        )

    def __init__(self, context: BackendContext, options: Mapping[str, Any]) -> None:
        super().__init__(context, options)
        self._loaded: dict[Path, tuple[Any, Any, Any, TokenFrame]] = {}

    def identity(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.options.get("model"),
            "beamSize": int(self.options.get("beamSize", 4)),
        }

    def _load(self, folder: Path) -> tuple[Any, Any, Any, TokenFrame]:
        if folder not in self._loaded:
            import ctranslate2

            device = "cuda" if self.context.device == "cuda" else "cpu"
            compute_type = self.options.get("computeType") or ("float16" if device == "cuda" else "int8")
            translator = ctranslate2.Translator(str(folder), device=device, compute_type=compute_type)
            source_codec, target_codec, kind = load_codecs(folder)
            self._loaded[folder] = (translator, source_codec, target_codec, read_frame(folder, kind))
        return self._loaded[folder]

    def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        folder, reason = self.locate(self.context, self.options, source, target)
        if folder is None:
            raise FileNotFoundError(reason)
        translator, source_codec, target_codec, frame = self._load(folder)
        wanted = [index for index, text in enumerate(texts) if text.strip()]
        batch = [[*frame.source_prefix, *source_codec.encode(texts[i]), *frame.source_suffix] for i in wanted]
        results = translator.translate_batch(
            batch,
            target_prefix=[list(frame.target_prefix)] * len(batch) if frame.target_prefix else None,
            beam_size=int(self.options.get("beamSize", 4)),
            max_decoding_length=int(self.options.get("maxDecodingLength", 256)),
        )
        output = list(texts)
        for index, result in zip(wanted, results, strict=False):
            tokens = result.hypotheses[0][len(frame.target_prefix) :]
            output[index] = target_codec.decode(tokens).strip()
        return output
