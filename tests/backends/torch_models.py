"""Tiny randomly initialised models written into a model cache in each library's own format.

Real weights cannot be downloaded here, so the tests build models with the real
architectures at toy sizes, save them the way the published checkpoints are saved, and
let the production backends load them from the cache exactly as they would load the
real ones.  Everything here imports torch, so only the torch backend tests import it.
"""

from __future__ import annotations

import json
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
