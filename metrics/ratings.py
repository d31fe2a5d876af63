"""Leaderboard ratings from pairwise votes: a Bradley-Terry fit with bootstrap confidence intervals.

This is Chatbot Arena's method (FastChat, `compute_mle_elo` and `get_bootstrap_result`):
  * P(a beats b) = 1 / (1 + BASE ** ((R_b - R_a) / SCALE)), fitted by maximum likelihood as a
    logistic regression without intercept on a design matrix with +ln(BASE) in a's column and
    -ln(BASE) in b's; ratings = SCALE * coefficient + INIT_RATING (Elo scale: 400, base 10, 1000).
    The ratings are relative: their mean is INIT_RATING, so adding a model moves the others.
  * every battle counts twice so that a tie can count as half a win each way (FastChat duplicates the
    rows); "both_bad" is a tie, as FastChat treats "tie (bothbad)": neither answer was preferred.
  * 95% CI = 2.5th-97.5th percentile of ratings refitted on battles resampled with replacement
    (seeded, at least 100 rounds); a model absent from a resample is left out of that round.
  * rank = 1 + number of models whose CI lower bound is above this model's upper bound, so models
    whose intervals overlap share a rank.

When one model has won (or lost) every battle against the rest, the likelihood keeps improving as its
rating runs off to infinity; the fit stops at a large finite value, which says only "far above". Check
`ratings_are_finite` before reading such numbers literally; the wide bootstrap CI shows it too.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

SCALE, BASE, INIT_RATING = 400.0, 10.0, 1000.0
OUTCOMES = ("a", "b", "tie", "both_bad")
Outcome = Literal["a", "b", "tie", "both_bad"]
Vote = tuple[str, str, str]  # (model_a, model_b, outcome)
MIN_ROUNDS = 100


@dataclass(frozen=True)
class _Battles:
    """Votes as index arrays, and the distinct ordered pairs that become design-matrix rows."""

    models: list[str]
    a: np.ndarray  # model index of side a, per vote
    b: np.ndarray
    win_a: np.ndarray  # 1.0 where a won
    win_b: np.ndarray
    tie: np.ndarray  # tie or both_bad
    pair: np.ndarray  # row of the vote's ordered pair in pair_a / pair_b
    pair_a: np.ndarray
    pair_b: np.ndarray


def _battles(votes: Iterable[Sequence[str]]) -> _Battles:
    rows = list(votes)
    if not rows:
        raise ValueError("no votes to rate")
    for n, row in enumerate(rows):
        if len(row) != 3:
            raise ValueError(f"vote {n}: expected (model_a, model_b, outcome), got {row!r}")
        a, b, outcome = row
        if outcome not in OUTCOMES:
            raise ValueError(f"vote {n}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        if not a or not b or a == b:
            raise ValueError(f"vote {n}: needs two different models, got {a!r} and {b!r}")
    models = sorted({r[0] for r in rows} | {r[1] for r in rows})
    index = {m: i for i, m in enumerate(models)}
    a = np.array([index[r[0]] for r in rows])
    b = np.array([index[r[1]] for r in rows])
    outcome = np.array([r[2] for r in rows])
    pairs, pair = np.unique(np.stack([a, b], axis=1), axis=0, return_inverse=True)
    return _Battles(
        models=models,
        a=a,
        b=b,
        win_a=(outcome == "a").astype(float),
        win_b=(outcome == "b").astype(float),
        tie=np.isin(outcome, ("tie", "both_bad")).astype(float),
        pair=pair.reshape(-1),
        pair_a=pairs[:, 0],
        pair_b=pairs[:, 1],
    )


def _fit(bt: _Battles, counts: np.ndarray) -> np.ndarray:
    """Ratings for one weighting of the votes (counts per vote); NaN for models with no battles."""
    k, p = len(bt.pair_a), len(bt.models)
    # Each battle duplicated: an a-win is two a-wins, a tie one win each way (FastChat).
    w_a = np.bincount(bt.pair, weights=counts * (2 * bt.win_a + bt.tie), minlength=k)
    w_b = np.bincount(bt.pair, weights=counts * (2 * bt.win_b + bt.tie), minlength=k)
    present = np.bincount(np.concatenate([bt.a, bt.b]), weights=np.concatenate([counts, counts]), minlength=p) > 0
    coef = _fit_logistic(bt, w_a, w_b)
    coef = coef - coef[present].mean()  # centre on the models present: the mean rating is INIT_RATING
    ratings = SCALE * coef + INIT_RATING
    ratings[~present] = np.nan
    return ratings


def _fit_logistic(bt: _Battles, w_a: np.ndarray, w_b: np.ndarray) -> np.ndarray:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    k, p = len(bt.pair_a), len(bt.models)
    x = np.zeros((2 * k, p))
    rows = np.arange(k)
    for half in (0, k):
        x[half + rows, bt.pair_a] = math.log(BASE)
        x[half + rows, bt.pair_b] = -math.log(BASE)
    y = np.concatenate([np.ones(k), np.zeros(k)])
    # max_iter=100 as in FastChat (sklearn default): separable votes otherwise run ~9 s per fit for nothing
    model = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-6, max_iter=100)
    with warnings.catch_warnings():  # separable votes (an unbeaten model) never converge: see module doc
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y, sample_weight=np.concatenate([w_a, w_b]))
    return model.coef_[0].copy()


def fit_bradley_terry(
    votes: Iterable[Sequence[str]],
) -> pd.Series:
    """Maximum-likelihood ratings on the Elo scale, highest first.

    >>> fit_bradley_terry([("x", "y", "a"), ("x", "y", "b"), ("x", "y", "tie")]).round(6).to_dict()
    {'x': 1000.0, 'y': 1000.0}
    >>> r = fit_bradley_terry([("x", "y", "a")] * 3 + [("x", "y", "b")])  # x wins 3 of 4
    >>> round(float(r["x"] - r["y"]), 1)  # 400 * log10(3): odds of 3 to 1
    190.8
    """
    bt = _battles(votes)
    ratings = _fit(bt, np.ones(len(bt.a)))
    return pd.Series(ratings, index=bt.models, name="rating").sort_values(ascending=False)


def bootstrap_ratings(
    votes: Iterable[Sequence[str]],
    *,
    rounds: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Ratings refitted on `rounds` resamples of the votes (rows: rounds, columns: models)."""
    if rounds < MIN_ROUNDS:
        raise ValueError(f"use at least {MIN_ROUNDS} bootstrap rounds for a 95% interval, not {rounds}")
    bt = _battles(votes)
    rng = np.random.default_rng(seed)
    n = len(bt.a)
    samples = [_fit(bt, rng.multinomial(n, np.full(n, 1.0 / n)).astype(float)) for _ in range(rounds)]
    return pd.DataFrame(samples, columns=bt.models)


def rank_by_intervals(lower: pd.Series, upper: pd.Series) -> pd.Series:
    """rank = 1 + number of models whose lower bound exceeds this model's upper bound.

    >>> lo, hi = pd.Series({"a": 1100, "b": 1050, "c": 900}), pd.Series({"a": 1200, "b": 1150, "c": 1000})
    >>> rank_by_intervals(lo, hi).to_dict()  # a and b overlap: both first; both clearly beat c
    {'a': 1, 'b': 1, 'c': 3}
    """
    lo = lower.to_numpy(dtype=float)
    ranks = [1 + int(np.sum(lo > up)) for up in upper.reindex(lower.index).to_numpy(dtype=float)]
    return pd.Series(ranks, index=lower.index, name="rank")


def leaderboard(
    votes: Iterable[Sequence[str]],
    *,
    rounds: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per model: rating, CI bounds, rank, battles, wins, losses, ties; best first.

    The rating is the fit on all votes; the bounds are bootstrap percentiles around it.
    """
    votes = list(votes)
    rating = fit_bradley_terry(votes)
    boot = bootstrap_ratings(votes, rounds=rounds, seed=seed)
    tail = (1 - confidence) / 2
    lower = boot.quantile(tail).reindex(rating.index)
    upper = boot.quantile(1 - tail).reindex(rating.index)
    board = pd.DataFrame({"rating": rating, "lower": lower, "upper": upper})
    board["rank"] = rank_by_intervals(board["lower"], board["upper"])
    record = _records(votes).reindex(board.index)
    board = board.join(record)
    board.index.name = "model"
    return board.sort_values(["rank", "rating"], ascending=[True, False])


def _records(votes: Sequence[Sequence[str]]) -> pd.DataFrame:
    counts: dict[str, dict[str, int]] = {}
    for a, b, outcome in votes:
        for model in (a, b):
            counts.setdefault(model, {"battles": 0, "wins": 0, "losses": 0, "ties": 0})
            counts[model]["battles"] += 1
        if outcome == "a":
            counts[a]["wins"] += 1
            counts[b]["losses"] += 1
        elif outcome == "b":
            counts[b]["wins"] += 1
            counts[a]["losses"] += 1
        else:
            counts[a]["ties"] += 1
            counts[b]["ties"] += 1
    return pd.DataFrame.from_dict(counts, orient="index")


def ratings_are_finite(votes: Iterable[Sequence[str]]) -> bool:
    """Whether the maximum-likelihood ratings exist (Ford's condition).

    They do when, however the models are split in two groups, some model in each group has beaten
    or tied some model in the other: the "beat or tied" graph is strongly connected.

    >>> ratings_are_finite([("x", "y", "a"), ("y", "z", "a")])  # x never lost
    False
    >>> ratings_are_finite([("x", "y", "a"), ("y", "z", "a"), ("z", "x", "a")])  # a cycle
    True
    """
    bt = _battles(votes)
    p = len(bt.models)
    reach = np.eye(p, dtype=bool)
    # edge loser -> winner ("was beaten or tied by"); a tie gives both directions
    reach[bt.b[(bt.win_a + bt.tie) > 0], bt.a[(bt.win_a + bt.tie) > 0]] = True
    reach[bt.a[(bt.win_b + bt.tie) > 0], bt.b[(bt.win_b + bt.tie) > 0]] = True
    for _ in range(max(1, math.ceil(math.log2(p)))):
        reach = (reach.astype(int) @ reach.astype(int)) > 0
    return bool(reach.all())


def _order(votes: Sequence[Sequence[str]], order: Sequence[str] | None) -> list[str]:
    return list(order) if order is not None else sorted({v[0] for v in votes} | {v[1] for v in votes})


def battle_counts(votes: Iterable[Sequence[str]], order: Sequence[str] | None = None) -> pd.DataFrame:
    """Symmetric matrix of how many battles each pair fought (either side), for a heat map.

    >>> battle_counts([("x", "y", "a"), ("y", "x", "tie"), ("x", "z", "b")]).to_dict("index")
    {'x': {'x': 0, 'y': 2, 'z': 1}, 'y': {'x': 2, 'y': 0, 'z': 0}, 'z': {'x': 1, 'y': 0, 'z': 0}}
    """
    votes = list(votes)
    names = _order(votes, order)
    table = pd.DataFrame(0, index=names, columns=names, dtype=int)
    for a, b, _ in votes:
        if a in table.index and b in table.index:
            table.loc[a, b] += 1
            table.loc[b, a] += 1
    return table


def win_rates(votes: Iterable[Sequence[str]], order: Sequence[str] | None = None) -> pd.DataFrame:
    """Share of battles the row model won against the column model, ties (and both-bad) as half a win.

    Counting ties as halves matches the Bradley-Terry fit, and makes rate[x, y] + rate[y, x] = 1.
    NaN where the two never met (and on the diagonal).

    >>> win_rates([("x", "y", "a"), ("y", "x", "tie"), ("x", "y", "b"), ("x", "y", "a")]).to_dict("index")
    {'x': {'x': nan, 'y': 0.625}, 'y': {'x': 0.375, 'y': nan}}
    """
    votes = list(votes)
    names = _order(votes, order)
    score = pd.DataFrame(0.0, index=names, columns=names)
    for a, b, outcome in votes:
        if a not in score.index or b not in score.index:
            continue
        gain_a = {"a": 1.0, "b": 0.0}.get(outcome, 0.5)
        score.loc[a, b] += gain_a
        score.loc[b, a] += 1.0 - gain_a
    games = battle_counts(votes, names).astype(float)
    return score / games.where(games > 0)
