"""TTS backend ``xtts``: Coqui XTTS-v2 through coqui-tts, cloning each speaker's voice.

Model cache layout (the files of the published XTTS-v2 release), loaded with
``XttsConfig.load_json``, ``Xtts(config)`` and ``Xtts.load_checkpoint``:

    <cache>/xtts/<model>/config.json         ("model" option, default v2)
    <cache>/xtts/<model>/model.pth
    <cache>/xtts/<model>/vocab.json
    <cache>/xtts/<model>/speakers_xtts.pth   optional: the release's named studio voices

The XTTS-v2 weights are under the Coqui Public Model License: the backend is ready
only once its terms are accepted (``DUBBING_COQUI_TERMS_ACCEPTED=1`` or
``COQUI_TOS_AGREED=1``, seen as ``settings["coquiTermsAccepted"]``).

The voice comes from the speaker's own reference clips (``get_conditioning_latents``);
with no clips, or with ``cloneVoices: false``, it is a named voice from
``speakers_xtts.pth`` (the ``voice`` option, else the first one).  Output: 24 kHz mono.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import soundfile as sf

from .base import BackendContext, Readiness, Synthesizer, check_rate
from .casting import named_voices
from .languages import TARGET_LANGUAGE_OPTION, primary
from .torch_common import device_details, missing_module, option, torch_device

MODULES = ("torch", "TTS")
DEFAULT_MODEL = "v2"
TERMS_REASON = "Coqui Public Model License terms not accepted (set DUBBING_COQUI_TERMS_ACCEPTED=1 / COQUI_TOS_AGREED=1)"
#: XTTS-v2's languages, used when config.json does not list them.
DEFAULT_LANGUAGES: tuple[str, ...] = (
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "hu", "ko", "ja", "hi",
)  # fmt: skip
REQUIRED_FILES = ("config.json", "model.pth", "vocab.json")
SPEAKERS_FILE = "speakers_xtts.pth"
DEFAULT_CHAR_LIMIT = 200


def model_dir(cache: Path, name: str) -> Path:
    return cache / "xtts" / name


def xtts_language(tag: str, supported: Sequence[str] = DEFAULT_LANGUAGES) -> str | None:
    """The XTTS language code for a BCP-47 tag, or None if XTTS does not speak it.

    ``pt-BR`` → ``pt``, ``en-US`` → ``en``, ``zh``/``zh-Hans``/``zh-CN`` → ``zh-cn``
    (XTTS has one Chinese: Mandarin), ``ja-JP`` → ``ja``.
    """
    lowered = tag.strip().lower()
    if lowered in supported:
        return lowered
    base = primary(lowered)
    if base in {"zh", "cmn"}:
        return "zh-cn" if "zh-cn" in supported else None
    return base if base in supported else None


def supported_languages(folder: Path) -> tuple[str, ...]:
    """The languages a model folder's config.json lists (the XTTS-v2 list if it does not)."""
    try:
        languages = json.loads((folder / "config.json").read_text()).get("languages")
    except (OSError, ValueError, AttributeError):
        return DEFAULT_LANGUAGES
    if isinstance(languages, list) and languages:
        return tuple(str(language) for language in languages)
    return DEFAULT_LANGUAGES


def split_text(text: str, limit: int) -> list[str]:
    """Cut text into pieces of at most ``limit`` characters, at sentence ends where possible,
    then at commas, then at spaces (a single longer word is cut as it is)."""
    text = " ".join(text.split())
    if not text:
        return []
    pieces: list[str] = []
    for sentence in re.split(r"(?<=[.!?。！？;；])\s+", text):
        pieces.extend(_fit(sentence, limit))
    merged: list[str] = []
    for piece in pieces:
        if merged and len(merged[-1]) + 1 + len(piece) <= limit:
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged


def _fit(sentence: str, limit: int) -> list[str]:
    if len(sentence) <= limit:
        return [sentence]
    for pattern in (r"(?<=[,，、])\s*", r"\s+"):
        parts = [part for part in re.split(pattern, sentence) if part]
        if len(parts) > 1:
            out: list[str] = []
            current = ""
            for part in parts:
                candidate = f"{current} {part}" if current else part
                if len(candidate) <= limit or not current:
                    current = candidate
                else:
                    out.append(current)
                    current = part
            out.append(current)
            return [piece for chunk in out for piece in _fit(chunk, limit)]
    return [sentence[i : i + limit] for i in range(0, len(sentence), limit)]


def stable_seed(*parts: str) -> int:
    """A seed that depends only on the text to speak, so a re-run says it the same way."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big")


#: Saved conditioning latents: a torch file of these two tensors.
LATENTS_SUFFIX = ".pt"
LATENTS_GPT, LATENTS_SPEAKER = "gpt_cond_latent", "speaker_embedding"


class XttsSynthesizer(Synthesizer):
    """XTTS-v2 with voice cloning from the speaker's own clips; GPU preferred."""

    name: ClassVar[str] = "xtts"
    rate_control: ClassVar[str | None] = "speed"
    gpu_preferred: ClassVar[bool] = True

    def __init__(self, context: BackendContext, options: Mapping[str, Any]) -> None:
        super().__init__(context, options)
        self.model_name = str(option(self.options, "model", DEFAULT_MODEL))
        self.clone_voices = bool(option(self.options, "cloneVoices", True))
        self.voice = self.options.get("voice")
        self._model: Any = None
        self._config: Any = None
        self._latents: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    @classmethod
    def readiness(cls, context: BackendContext, options: Mapping[str, Any]) -> Readiness:
        name = str(option(options, "model", DEFAULT_MODEL))
        common: dict[str, Any] = {
            "stage": cls.stage,
            "backend": cls.name,
            "needs_gpu": cls.gpu_preferred,
            "model": name,
        }
        missing = missing_module(MODULES)
        if missing:
            return Readiness(installed=False, ready=False, reason=missing, **common)
        if not context.settings.get("coquiTermsAccepted"):
            return Readiness(installed=True, ready=False, reason=TERMS_REASON, **common)
        folder = model_dir(context.model_cache, name)
        for file in REQUIRED_FILES:
            if not (folder / file).is_file():
                return Readiness(installed=True, ready=False, reason=f"weights absent: {folder / file}", **common)
        languages = supported_languages(folder)
        target = options.get(TARGET_LANGUAGE_OPTION)
        if target and xtts_language(str(target), languages) is None:
            reason = f"XTTS does not speak {target} (it speaks {', '.join(languages)})"
            return Readiness(installed=True, ready=False, reason=reason, **common)
        if not bool(option(options, "cloneVoices", True)) and not (folder / SPEAKERS_FILE).is_file():
            reason = f"cloneVoices is off and there are no named voices: {folder / SPEAKERS_FILE} absent"
            return Readiness(installed=True, ready=False, reason=reason, **common)
        details = {"weights": str(folder), "languages": list(languages), **device_details(context)}
        return Readiness(installed=True, ready=True, details=details, **common)

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_name, "cloneVoices": self.clone_voices, "voice": self.voice}

    def load(self) -> Any:
        """The model, through coqui-tts's own config and checkpoint loaders."""
        if self._model is None:
            if not self.context.settings.get("coquiTermsAccepted"):
                raise PermissionError(TERMS_REASON)
            from TTS.tts.configs.xtts_config import XttsConfig
            from TTS.tts.models.xtts import Xtts

            folder = model_dir(self.context.model_cache, self.model_name)
            config = XttsConfig()
            config.load_json(str(folder / "config.json"))
            model = Xtts(config)
            model.load_checkpoint(config, checkpoint_dir=str(folder), eval=True)
            model.to(torch_device(self.context))
            self._config, self._model = config, model
        return self._model

    @property
    def sample_rate(self) -> int:
        self.load()
        return int(self._config.model_args.output_sample_rate)

    def export_voice(self, speaker_refs: Sequence[Path], out: Path) -> bool:
        """Save the conditioning latents of the clips (for the voice library); False when not cloning."""
        if not speaker_refs or not self.clone_voices:
            return False
        import torch

        gpt_cond_latent, speaker_embedding = self._voice(list(speaker_refs))
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save({LATENTS_GPT: gpt_cond_latent.cpu(), LATENTS_SPEAKER: speaker_embedding.cpu()}, str(out))
        return True

    def _voice(self, speaker_refs: Sequence[Path], named: str | None = None) -> tuple[Any, Any]:
        """(GPT conditioning latents, speaker embedding) from saved latents (a ``.pt`` from
        :meth:`export_voice`, the voice library's), from the clips, or a named voice (``named``:
        the one ``spec.voices`` gives this speaker, else the ``voice`` option)."""
        model, config = self.load(), self._config
        saved = [path for path in speaker_refs if path.suffix == LATENTS_SUFFIX]
        if saved and self.clone_voices and not named:
            import torch

            data = torch.load(str(saved[0]), map_location=torch_device(self.context), weights_only=True)
            return data[LATENTS_GPT], data[LATENTS_SPEAKER]
        if speaker_refs and self.clone_voices and not named:
            key = tuple((str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in speaker_refs)
            if key not in self._latents:
                self._latents[key] = model.get_conditioning_latents(
                    audio_path=[str(path) for path in speaker_refs],
                    gpt_cond_len=config.gpt_cond_len,
                    gpt_cond_chunk_len=config.gpt_cond_chunk_len,
                    max_ref_length=config.max_ref_len,
                    sound_norm_refs=config.sound_norm_refs,
                )
            return self._latents[key]
        speakers = model.speaker_manager.speakers if model.speaker_manager is not None else {}
        folder = model_dir(self.context.model_cache, self.model_name)
        if not speakers:
            why = (
                f"spec.voices names {named}"
                if named
                else ("no speaker reference clips" if self.clone_voices else "cloneVoices is off")
            )
            raise ValueError(f"{why} and no named voices in {folder / SPEAKERS_FILE}")
        name = named or (str(self.voice) if self.voice else next(iter(speakers)))
        if name not in speakers:
            raise ValueError(f"no voice named {name!r} in {folder / SPEAKERS_FILE} (voices: {', '.join(speakers)})")
        voice = speakers[name]
        return voice["gpt_cond_latent"], voice["speaker_embedding"]

    def synthesize(
        self,
        text: str,
        language: str,
        speaker_refs: Sequence[Path],
        out_wav: Path,
        *,
        speaker: str | None = None,
        rate: float = 1.0,
    ) -> float:
        """``rate`` is XTTS's ``speed`` (it shortens the GPT latents' length scale)."""
        import torch

        speed = check_rate(rate, self.rate_control, self.name)

        model = self.load()
        code = xtts_language(language, tuple(self._config.languages) or DEFAULT_LANGUAGES)
        if code is None:
            raise ValueError(f"XTTS does not speak {language}")
        named = named_voices(self.options).get(speaker or "")
        gpt_cond_latent, speaker_embedding = self._voice([] if named else list(speaker_refs), named)
        limit = int(model.tokenizer.char_limits.get(code.split("-")[0], DEFAULT_CHAR_LIMIT))
        pieces = split_text(text, limit)
        if not pieces:
            raise ValueError("nothing to say: the text is empty")
        config = self._config
        torch.manual_seed(stable_seed(text, code))
        waves = []
        for piece in pieces:
            result = model.inference(
                piece,
                code,
                gpt_cond_latent,
                speaker_embedding,
                temperature=config.temperature,
                length_penalty=config.length_penalty,
                repetition_penalty=config.repetition_penalty,
                top_k=config.top_k,
                top_p=config.top_p,
                speed=speed,
            )
            waves.append(np.asarray(result["wav"], dtype=np.float32).reshape(-1))
        audio = np.clip(np.concatenate(waves), -1.0, 1.0)
        rate = int(config.model_args.output_sample_rate)
        out_wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(out_wav), audio, rate, subtype="PCM_16")
        return len(audio) / rate
