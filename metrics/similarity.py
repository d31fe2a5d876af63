"""Semantic similarity and agreement from sentence embeddings, as plain vector maths.

The functions take `embed`, any function from a list of texts to one embedding row per text
(providers.embedder.load_embedder gives the bundled all-MiniLM-L6-v2 one), so they stay pure and are
tested on hand-made vectors. Similarity is cosine: 1 for the same direction, 0 for unrelated.
For MiniLM, paraphrases typically land above 0.7 and unrelated sentences near 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from metrics.registry import register

Embed = Callable[[list[str]], np.ndarray]


def cosine_matrix(vectors: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Pairwise cosine similarities of the rows; NaN wherever a row is all zeros (no direction).

    >>> cosine_matrix([[1, 0], [1, 1], [0, 0]]).round(4).tolist()
    [[1.0, 0.7071, nan], [0.7071, 1.0, nan], [nan, nan, nan]]
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"expected one vector per row, got shape {v.shape}")
    norms = np.linalg.norm(v, axis=1)
    unit = np.divide(v, norms[:, None], out=np.zeros_like(v), where=norms[:, None] > 0)
    sims = np.clip(unit @ unit.T, -1.0, 1.0)
    zero = norms == 0
    sims[zero, :] = np.nan
    sims[:, zero] = np.nan
    return sims


@register(
    "semantic_similarity",
    range=(-1.0, 1.0),
    higher_is_better=True,
    needs_reference=True,
    needs_embedder=True,
)
def semantic_similarity(prediction: str, reference: str, *, embed: Embed) -> float:
    """Cosine similarity of the output's and the reference's embeddings.

    An empty output scores 0 against a non-empty reference (no content, no similarity), and 1
    when both are empty, as token F1 does.

    >>> fake = lambda texts: np.array([[3.0, 4.0] if t == "yes" else [4.0, 3.0] for t in texts])
    >>> semantic_similarity("yes", "yes", embed=fake), semantic_similarity("yes", "no", embed=fake)
    (1.0, 0.96)
    """
    if not prediction.strip() or not reference.strip():
        return float(not prediction.strip() and not reference.strip())
    return round(float(cosine_matrix(embed([prediction, reference]))[0, 1]), 12)


def agreement_from_vectors(vectors: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Each row's mean cosine similarity to every other row (consensus); NaN with fewer than two rows.

    >>> agreement_from_vectors([[1, 0], [1, 0], [0, 1]]).tolist()
    [0.5, 0.5, 0.0]
    """
    sims = cosine_matrix(vectors)
    n = len(sims)
    if n < 2:
        return np.full(n, np.nan)
    np.fill_diagonal(sims, np.nan)
    with warnings.catch_warnings():  # a row with no defined similarity is NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(sims, axis=1)


def agreement(outputs: Sequence[str | None], *, embed: Embed) -> list[float | None]:
    """For each model's output, its mean semantic similarity to the other models' outputs.

    A high score means the output says what most others say: a hint of correctness on questions with
    one answer, not proof (models can agree on a wrong answer). Missing or blank outputs (failed
    calls) get None and are left out of the others' means; with fewer than two real outputs every
    score is None.

    >>> vecs = {"a": [1.0, 0.0], "b": [0.8, 0.6], "c": [0.0, 1.0]}
    >>> agreement(["a", "b", None, "c"], embed=lambda ts: np.array([vecs[t] for t in ts]))
    [0.4, 0.7, None, 0.3]
    """
    keep = [i for i, text in enumerate(outputs) if text is not None and text.strip()]
    scores: list[float | None] = [None] * len(outputs)
    if len(keep) < 2:
        return scores
    means = agreement_from_vectors(embed([outputs[i] for i in keep]))  # type: ignore[misc]
    for i, value in zip(keep, means, strict=True):
        scores[i] = None if np.isnan(value) else round(float(value), 12)
    return scores
