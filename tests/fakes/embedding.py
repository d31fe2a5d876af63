"""A tiny deterministic embedder for tests: hashed bag of lower-cased words (no model, no download).

Texts sharing words point in similar directions, so agreement and similarity behave sensibly, and
the numbers are repeatable. The real all-MiniLM-L6-v2 is exercised by the `local` tests.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

DIMENSIONS = 64
_WORD = re.compile(r"\w+")


def bag_of_words(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float64)
    for row, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIMENSIONS] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def load() -> object:
    return bag_of_words
