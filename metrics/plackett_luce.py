"""Ratings from whole rankings: a Plackett-Luce fit (choix's I-LSR) with bootstrap confidence intervals.

Plackett-Luce reads a ranking as successive choices: the best answer is picked from all of them with
probability proportional to its strength w, the second from the rest, and so on. Whatever else was
ranked, P(i above j) = w_i / (w_i + w_j) (Luce's choice axiom), which is Bradley-Terry's model; so
rating = SCALE * log_BASE(w) + INIT_RATING puts both boards on metrics.ratings' Elo scale (400 points =
10:1 odds of being preferred), centred on INIT_RATING over the models present.

* fit: choix.ilsr_rankings with alpha = ALPHA. A model always ranked first (or last) has no finite
  maximum-likelihood rating; alpha adds a hundredth of a comparison between every two models, which
  holds it finite ("far above") and fades as rankings accumulate. `ratings_are_finite` says whether
  the unregularised fit would exist.
* 95% CI: 2.5th-97.5th percentile of ratings refitted on rankings resampled with replacement
  (seeded); a model absent from a resample is left out of that round.
* rank: metrics.ratings.rank_by_intervals (1 + models whose interval lies entirely above).
* no ties: the model has none (choix fits strict orders), and splitting a tie into every order would
  invent preferences; a tie is what the pairwise vote is for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import choix
import numpy as np
import pandas as pd

from metrics import ratings
from metrics.ratings import BASE, INIT_RATING, MIN_ROUNDS, SCALE

ALPHA = 0.01  # regularisation: pseudo-comparisons between every two models


def _indexed(rankings: Iterable[Sequence[str]]) -> tuple[list[str], list[list[int]]]:
    rows = [list(r) for r in rankings]
    if not rows:
        raise ValueError("no rankings to rate")
    for n, row in enumerate(rows):
        if len(row) < 2:
            raise ValueError(f"ranking {n}: needs at least two models, got {row!r}")
        if not all(row) or len(set(row)) != len(row):
            raise ValueError(f"ranking {n}: names each model once, got {row!r}")
    models = sorted({m for row in rows for m in row})
    index = {m: i for i, m in enumerate(models)}
    return models, [[index[m] for m in row] for row in rows]


def _fit(data: Sequence[Sequence[int]], n_models: int, alpha: float, start: np.ndarray | None = None) -> np.ndarray:
    """Elo-scale ratings of the models in `data`; NaN for models that appear in none of it."""
    present = np.unique(np.concatenate([np.asarray(r) for r in data]))
    local = np.full(n_models, -1)
    local[present] = np.arange(len(present))
    params = choix.ilsr_rankings(
        len(present),
        [[int(local[m]) for m in r] for r in data],
        alpha=alpha,
        initial_params=None if start is None else start[present],
        max_iter=1000,
    )
    out = np.full(n_models, np.nan)
    out[present] = SCALE / math.log(BASE) * (params - params.mean()) + INIT_RATING
    return out


def fit_plackett_luce(rankings: Iterable[Sequence[str]], *, alpha: float = ALPHA) -> pd.Series:
    """Ratings on the Elo scale, highest first. Each ranking lists model names best first.

    >>> r = fit_plackett_luce([["x", "y"]] * 3 + [["y", "x"]], alpha=0)  # x above y 3 times of 4
    >>> round(float(r["x"] - r["y"]), 1)  # 400 * log10(3), as the Bradley-Terry fit says
    190.8
    """
    models, data = _indexed(rankings)
    return pd.Series(_fit(data, len(models), alpha), index=models, name="rating").sort_values(ascending=False)


def bootstrap_ratings(
    rankings: Iterable[Sequence[str]], *, rounds: int = 200, seed: int = 0, alpha: float = ALPHA
) -> pd.DataFrame:
    """Ratings refitted on `rounds` resamples of the rankings (rows: rounds, columns: models)."""
    if rounds < MIN_ROUNDS:
        raise ValueError(f"use at least {MIN_ROUNDS} bootstrap rounds for a 95% interval, not {rounds}")
    models, data = _indexed(rankings)
    full = _fit(data, len(models), alpha)
    start = (full - INIT_RATING) * math.log(BASE) / SCALE  # warm start: fewer I-LSR iterations per round
    rng = np.random.default_rng(seed)
    n = len(data)
    samples = [_fit([data[i] for i in rng.integers(0, n, n)], len(models), alpha, start) for _ in range(rounds)]
    return pd.DataFrame(samples, columns=models)


def ratings_are_finite(rankings: Iterable[Sequence[str]]) -> bool:
    """Whether the unregularised ratings exist (Hunter 2004): however the models are split in two
    groups, some model of each group was ranked above some model of the other.

    >>> ratings_are_finite([["x", "y", "z"], ["y", "x", "z"]])  # z always last
    False
    >>> ratings_are_finite([["x", "y", "z"], ["z", "y", "x"]])
    True
    """
    return ratings.ratings_are_finite(pairwise(rankings))


def pairwise(rankings: Iterable[Sequence[str]]) -> list[tuple[str, str, str]]:
    """Each ranking as the (higher, lower, "a") votes it implies.

    >>> pairwise([["x", "y", "z"]])
    [('x', 'y', 'a'), ('x', 'z', 'a'), ('y', 'z', 'a')]
    """
    return [(row[i], row[j], "a") for row in rankings for i in range(len(row)) for j in range(i + 1, len(row))]


def leaderboard(
    rankings: Iterable[Sequence[str]],
    *,
    rounds: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """One row per model: rating, CI bounds, rank, rankings (how many it is in), first, last; best first."""
    rankings = [list(r) for r in rankings]
    rating = fit_plackett_luce(rankings, alpha=alpha)
    boot = bootstrap_ratings(rankings, rounds=rounds, seed=seed, alpha=alpha)
    tail = (1 - confidence) / 2
    board = pd.DataFrame(
        {
            "rating": rating,
            "lower": boot.quantile(tail).reindex(rating.index),
            "upper": boot.quantile(1 - tail).reindex(rating.index),
        }
    )
    board["rank"] = ratings.rank_by_intervals(board["lower"], board["upper"])
    board = board.join(_records(rankings))
    board.index.name = "model"
    return board.sort_values(["rank", "rating"], ascending=[True, False])


def _records(rankings: Sequence[Sequence[str]]) -> pd.DataFrame:
    counts: dict[str, dict[str, int]] = {}
    for row in rankings:
        for place, model in enumerate(row):
            c = counts.setdefault(model, {"rankings": 0, "first": 0, "last": 0})
            c["rankings"] += 1
            c["first"] += place == 0
            c["last"] += place == len(row) - 1
    return pd.DataFrame.from_dict(counts, orient="index")
