"""Tokenizers for CTranslate2 translation model folders: SentencePiece or Hugging Face ``tokenizers``.

A folder holds one of:
- ``source.spm`` (and ``target.spm``; the source model is used for both when it is absent),
- a shared SentencePiece model: ``spm.model``, ``sentencepiece.model`` or ``sentencepiece.bpe.model``,
- ``tokenizer.json`` (and optionally ``target_tokenizer.json``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

SHARED_SPM = ("spm.model", "sentencepiece.model", "sentencepiece.bpe.model")


class TokenCodec(Protocol):
    def encode(self, text: str) -> list[str]: ...

    def decode(self, tokens: Sequence[str]) -> str: ...


class SentencePieceCodec:
    def __init__(self, model: Path) -> None:
        import sentencepiece

        self._processor = sentencepiece.SentencePieceProcessor(model_file=str(model))

    def encode(self, text: str) -> list[str]:
        return list(self._processor.encode(text, out_type=str))

    def decode(self, tokens: Sequence[str]) -> str:
        return str(self._processor.decode_pieces(list(tokens)))


class HuggingFaceCodec:
    """A ``tokenizers`` JSON; special tokens (e.g. a closing ``</s>``) are added as the tokenizer defines."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))

    def encode(self, text: str) -> list[str]:
        return list(self._tokenizer.encode(text).tokens)

    def decode(self, tokens: Sequence[str]) -> str:
        ids = [self._tokenizer.token_to_id(token) for token in tokens]
        return str(self._tokenizer.decode([i for i in ids if i is not None], skip_special_tokens=True))


def tokenizer_files(folder: Path) -> tuple[str, Path, Path] | None:
    """(kind, source file, target file) of the folder's tokenizer, or None if it has none."""
    if (folder / "source.spm").is_file():
        target = folder / "target.spm"
        return "sentencepiece", folder / "source.spm", target if target.is_file() else folder / "source.spm"
    for name in SHARED_SPM:
        if (folder / name).is_file():
            return "sentencepiece", folder / name, folder / name
    if (folder / "tokenizer.json").is_file():
        target = folder / "target_tokenizer.json"
        return "tokenizers", folder / "tokenizer.json", target if target.is_file() else folder / "tokenizer.json"
    return None


def required_module(kind: str) -> str:
    return "sentencepiece" if kind == "sentencepiece" else "tokenizers"


def load_codecs(folder: Path) -> tuple[TokenCodec, TokenCodec, str]:
    """(source codec, target codec, kind)."""
    found = tokenizer_files(folder)
    if found is None:
        raise FileNotFoundError(f"no tokenizer in {folder} (source.spm, spm.model or tokenizer.json)")
    kind, source, target = found
    make = SentencePieceCodec if kind == "sentencepiece" else HuggingFaceCodec
    source_codec: TokenCodec = make(source)
    target_codec: TokenCodec = source_codec if target == source else make(target)
    return source_codec, target_codec, kind
