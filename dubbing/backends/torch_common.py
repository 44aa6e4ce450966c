"""What the torch backends (demucs, pyannote.audio, XTTS) share: cheap readiness checks
and the choice of device.  Nothing here imports torch at module level, so a readiness
check on a machine without torch says "module torch not installed" instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .base import BackendContext, module_available

#: The note a ready torch backend carries when it will run on the CPU.
CPU_NOTE = "no GPU visible: runs on the CPU, many times slower than on a GPU"


def missing_module(modules: Iterable[str]) -> str | None:
    """The readiness reason for the first module that is not installed, or None.

    ``modules`` are import names ("torch", "demucs", "pyannote.audio", "TTS").
    """
    for name in modules:
        if not module_available(name):
            return f"module {name} not installed"
    return None


def device_details(context: BackendContext) -> dict[str, Any]:
    """Readiness details about where the model will run (GPU preferred, CPU allowed)."""
    if context.device == "cuda":
        return {"device": "cuda"}
    return {"device": "cpu", "note": CPU_NOTE}


def torch_device(context: BackendContext) -> Any:
    """The torch device for this context; "cuda" falls back to the CPU when torch sees no GPU."""
    import torch

    if context.device == "cuda" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def option(options: Mapping[str, Any], key: str, default: Any) -> Any:
    """An option's value, with ``default`` for a missing key or an explicit None."""
    value = options.get(key)
    return default if value is None else value
