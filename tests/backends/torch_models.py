"""Tiny randomly initialised models written into a model cache in each library's own format.

Real weights cannot be downloaded here, so the tests build models with the real
architectures at toy sizes, save them the way the published checkpoints are saved, and
let the production backends load them from the cache exactly as they would load the
real ones.  Everything here imports torch, so only the torch backend tests import it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

DEMUCS_SOURCES = ["drums", "bass", "other", "vocals"]


def write_tiny_demucs(cache: Path, name: str = "htdemucs", sig: str = "0badcafe", segment: float = 1.0) -> Path:
    """A tiny HTDemucs saved as a bag ``<name>.yaml`` + ``<sig>-<checksum>.th``, like the published htdemucs."""
    import torch
    from demucs.htdemucs import HTDemucs
    from demucs.states import get_state, save_with_checksum

    torch.manual_seed(0)
    model = HTDemucs(
        sources=DEMUCS_SOURCES,
        channels=4,
        depth=3,
        nfft=1024,
        t_layers=1,
        t_heads=1,
        t_hidden_scale=1.0,
        dconv_depth=1,
        dconv_comp=2,
        segment=segment,
    )
    args, kwargs = model._init_args_kwargs
    package = {
        "klass": HTDemucs,
        "args": args,
        "kwargs": kwargs,
        "state": get_state(model, None, half=True),
        "training_args": {},
    }
    root = cache / "demucs"
    root.mkdir(parents=True, exist_ok=True)
    save_with_checksum(package, root / f"{sig}.th")
    (root / f"{name}.yaml").write_text(yaml.safe_dump({"models": [sig]}))
    return root


def _save_pyannote_model(model, path: Path) -> None:
    """Save a pyannote Model as pyannote's own converters do (Lightning checkpoint layout)."""
    import lightning
    import torch

    checkpoint = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    model.on_save_checkpoint(checkpoint)
    checkpoint["pytorch-lightning_version"] = lightning.__version__
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def write_tiny_pyannote(cache: Path, name: str = "speaker-diarization-community-1", chunk: float = 5.0) -> Path:
    """A pyannote 4 pipeline folder like speaker-diarization-community-1, with tiny parts:

    - segmentation: PyanNet (the segmentation-3.0 architecture) at toy size, powerset
      over 3 speakers / 2 simultaneous, its classifier biased towards "speaker 1 alone"
      so that the random model does find speech;
    - embedding: WeSpeakerResNet34 (community-1's embedding architecture), random weights;
    - plda: a random, well-conditioned 8-dimensional PLDA for VBx clustering.
    """
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34
    from pyannote.audio.models.segmentation import PyanNet

    folder = cache / "pyannote" / name
    torch.manual_seed(0)
    segmentation = PyanNet(
        sincnet={"stride": 10},
        lstm={"hidden_size": 16, "num_layers": 1, "bidirectional": True, "monolithic": True, "dropout": 0.0},
        linear={"hidden_size": 16, "num_layers": 1},
    )
    segmentation.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION,
        resolution=Resolution.FRAME,
        duration=chunk,
        classes=["speaker#1", "speaker#2", "speaker#3"],
        powerset_max_classes=2,
        permutation_invariant=True,
    )
    segmentation.build()
    with torch.no_grad():
        segmentation.classifier.bias.zero_()
        segmentation.classifier.bias[1] = 5.0  # powerset class 1 = {speaker#1}
    _save_pyannote_model(segmentation, folder / "segmentation" / "pytorch_model.bin")

    embedding = WeSpeakerResNet34(num_mel_bins=16)  # 80 in the real model: same network, narrower input
    embedding.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=chunk
    )
    _save_pyannote_model(embedding, folder / "embedding" / "pytorch_model.bin")

    rng = np.random.default_rng(0)
    dimension, lda_dimension = 256, 8
    (folder / "plda").mkdir(parents=True, exist_ok=True)
    np.savez(
        folder / "plda" / "xvec_transform.npz",
        mean1=rng.standard_normal(dimension) * 0.01,
        mean2=rng.standard_normal(lda_dimension) * 0.01,
        lda=np.linalg.qr(rng.standard_normal((dimension, lda_dimension)))[0],
    )
    np.savez(
        folder / "plda" / "plda.npz",
        mu=np.zeros(lda_dimension),
        tr=np.eye(lda_dimension) + 0.1 * rng.standard_normal((lda_dimension, lda_dimension)),
        psi=np.linspace(2.0, 0.5, lda_dimension),
    )
    config = {
        "dependencies": {"pyannote.audio": "4.0.0"},
        "pipeline": {
            "name": "pyannote.audio.pipelines.SpeakerDiarization",
            "params": {
                "segmentation": "$model/segmentation",
                "embedding": "$model/embedding",
                "plda": "$model/plda",
                "clustering": "VBxClustering",
                "segmentation_step": 0.5,
                "embedding_batch_size": 8,
                "segmentation_batch_size": 8,
                "embedding_exclude_overlap": True,
            },
        },
        "params": {
            "segmentation": {"min_duration_off": 0.0},
            "clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8},
        },
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


XTTS_LANGUAGES = [
    "en",
    "es",
    "fr",
    "de",
    "it",
    "pt",
    "pl",
    "tr",
    "ru",
    "nl",
    "cs",
    "ar",
    "zh-cn",
    "hu",
    "ko",
    "ja",
    "hi",
]


def _write_xtts_vocab(path: Path) -> int:
    """A character-level tokenizer in the ``tokenizers`` JSON format XTTS's VoiceBpeTokenizer reads."""
    from tokenizers import AddedToken, Tokenizer
    from tokenizers.models import BPE

    specials = ["[STOP]", "[UNK]", "[SPACE]", "[START]"] + [f"[{lang}]" for lang in XTTS_LANGUAGES]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-:;\"áàâãäçéèêëíìîïñóòôõöúùûüœß")
    vocab = {token: index for index, token in enumerate(specials + chars)}
    tokenizer = Tokenizer(BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tokenizer.add_special_tokens([AddedToken(token, normalized=False) for token in specials])
    tokenizer.save(str(path))
    return len(vocab)


def write_tiny_xtts(cache: Path, model: str = "v2", speakers: tuple[str, ...] = ("Tiny Speaker",)) -> Path:
    """An XTTS-v2 folder (config.json, model.pth, vocab.json, speakers_xtts.pth) of a toy-size model.

    The GPT has one layer of width 32 and at most 24 audio tokens per sentence (so a random
    model, which never predicts the stop token, still ends); the HiFi-GAN decoder and speaker
    encoder keep XTTS's fixed architecture, randomly initialised.
    """
    import torch
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
    from TTS.tts.models.xtts import Xtts

    folder = cache / "xtts" / model
    folder.mkdir(parents=True, exist_ok=True)
    tokens = _write_xtts_vocab(folder / "vocab.json")
    width = 32
    config = XttsConfig(
        model_args=XttsArgs(
            gpt_layers=1,
            gpt_n_model_channels=width,
            gpt_n_heads=2,
            gpt_number_text_tokens=tokens,
            gpt_max_audio_tokens=24,
            gpt_max_text_tokens=200,
            gpt_max_prompt_tokens=16,
            gpt_num_audio_tokens=66,
            gpt_start_audio_token=64,
            gpt_stop_audio_token=65,
            gpt_use_perceiver_resampler=True,
            decoder_input_dim=width,
        ),
        languages=list(XTTS_LANGUAGES),
    )
    config.save_json(str(folder / "config.json"))
    torch.manual_seed(0)
    xtts = Xtts(config)
    xtts.tokenizer = None  # not part of the checkpoint
    torch.save({"model": xtts.state_dict()}, folder / "model.pth")
    if speakers:
        voices = {
            name: {
                "gpt_cond_latent": torch.randn(1, 32, width),
                "speaker_embedding": torch.nn.functional.normalize(torch.randn(1, 512), dim=1).unsqueeze(-1),
            }
            for name in speakers
        }
        torch.save(voices, folder / "speakers_xtts.pth")
    return folder
