"""Anytime-valid confidence sequences for the mean of a bounded paired difference, and sample-size planning.

Why: a batch comparing two models (or two prompts) could stop as soon as the data separate them, but
checking an ordinary 95% confidence interval after every item and stopping when it excludes 0 is wrong
far more often than 5% of the time. A confidence sequence (CS) is a sequence of intervals C_1, C_2, …
with P(∃t: μ ∉ C_t) ≤ α, so it may be checked after every item and the batch stopped whenever it
excludes 0, with the error rate still at most α.

This is the hedged betting CS of Waudby-Smith & Ramdas, "Estimating means of bounded random variables by
betting", JRSS-B 86(1), 2024 (arXiv:2010.09686; section 4, "hedged capital process"), with their
predictable plug-in bets. For observations X_i in [0, 1] (a paired difference D in [-1, 1] is mapped to
X = (D + 1) / 2) and a candidate mean m:

    μ̂_t  = (1/2 + Σ_{i≤t} X_i) / (t + 1)          σ̂²_t = (1/4 + Σ_{i≤t} (X_i − μ̂_i)²) / (t + 1)
    λ_t  = min(c, sqrt(2 log(2/α) / (σ̂²_{t−1} · t · log(1 + t))))      with c = 1/2
    K⁺_t(m) = Π_{i≤t} (1 + min(λ_i, c/m) · (X_i − m))
    K⁻_t(m) = Π_{i≤t} (1 − min(λ_i, c/(1 − m)) · (X_i − m))
    K_t(m)  = max(K⁺_t(m), K⁻_t(m)) / 2              C_t = {m : K_s(m) < 1/α for every s ≤ t}

At the true mean, (K⁺ + K⁻)/2 ≥ K is a nonnegative martingale that starts at 1 (each bet uses only earlier
observations, and the truncation keeps every factor ≥ 1 − c > 0), so by Ville's inequality it ever reaches
1/α with probability at most α. The running intersection (every s ≤ t) keeps that guarantee and makes the
intervals shrink monotonically.

C_t is computed on an odd grid of candidate differences that includes 0, so "C_t excludes 0" is exact. The
interval reported, (low, high), is open: its ends are the excluded grid points next to the kept ones (or
±1), so it contains C_t whatever the grid's resolution. The assumption is that items come in random
order, like draws from the population of prompts: callers feed differences in the order they drew, not
in the order calls happen to finish.

Scaling into [-1, 1] is the caller's job: a pass/fail difference is already in {−1, 0, 1}; a score with
a known range [lo, hi] becomes (s − lo) / (hi − lo) before differencing. Unbounded quantities (latency,
cost) have no such bound and should be refused, not clipped silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

# The bet cap c (the paper suggests 1/2 or 3/4). Any predictable bet keeps the guarantee; 1/2 decides small
# differences more often within a cap and costs items on large ones (at least 17 for a difference of +1 every
# time, against 10 with bets capped at c/m only, as the authors' confseq.hedged_cs does); bench/adaptive_batches.py.
C = 0.5


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")


class _Bets:
    """The two capital processes for R sequences at G candidate means (log scale, arrays of shape (R, G))."""

    def __init__(self, means: np.ndarray, runs: int, alpha: float) -> None:
        self.m = means
        with np.errstate(divide="ignore"):
            self.cap_plus = np.where(means > 0, C / means, np.inf)
            self.cap_minus = np.where(means < 1, C / (1 - means), np.inf)
        self.log_2_over_alpha = math.log(2 / alpha)
        self.t = 0
        self.sum_x = np.zeros(runs)
        self.sum_sq = np.zeros(runs)  # Σ (X_i − μ̂_i)²
        self.log_plus = np.zeros((runs, means.size))
        self.log_minus = np.zeros((runs, means.size))

    def step(self, x: np.ndarray) -> None:
        t = self.t + 1
        var_prev = (0.25 + self.sum_sq) / t  # σ̂²_{t−1}
        lam = np.minimum(C, np.sqrt(2 * self.log_2_over_alpha / (var_prev * t * math.log1p(t))))[:, None]
        dev = x[:, None] - self.m[None, :]
        self.log_plus += np.log1p(np.minimum(lam, self.cap_plus) * dev)
        self.log_minus += np.log1p(-np.minimum(lam, self.cap_minus) * dev)
        self.sum_x += x
        self.sum_sq += (x - (0.5 + self.sum_x) / (t + 1)) ** 2
        self.t = t

    def log_capital(self) -> np.ndarray:
        return np.maximum(self.log_plus, self.log_minus) - math.log(2)


def _as_x(d: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(d)) or np.any(np.abs(d) > 1):
        raise ValueError("paired differences must be finite and within [-1, 1]; scale the metric first")
    return (d + 1) / 2


def _grid(points: int) -> np.ndarray:
    if points < 3 or points % 2 == 0:
        raise ValueError(f"the grid needs an odd number of points (at least 3) so that it holds 0, got {points}")
    return np.linspace(-1.0, 1.0, points)


def _ends(grid: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Open interval (low, high) around the kept grid points, per row of `kept`."""
    g = grid.size
    first = np.argmax(kept, axis=-1)
    last = g - 1 - np.argmax(kept[..., ::-1], axis=-1)
    low = np.where(first > 0, grid[np.maximum(first - 1, 0)], -1.0)
    high = np.where(last < g - 1, grid[np.minimum(last + 1, g - 1)], 1.0)
    return low, high


class BettingCS:
    """A confidence sequence for the mean paired difference, updated one item at a time.

    >>> cs = BettingCS(alpha=0.05)
    >>> [cs.update(1.0) is not None and cs.excludes(0) for _ in range(20)].index(True) + 1  # A always wins
    17
    >>> cs.n, round(cs.low, 3), cs.high
    (20, 0.189, 1.0)
    >>> even = BettingCS(alpha=0.05)
    >>> for d in [1, -1] * 50:
    ...     _ = even.update(d)
    >>> even.excludes(0), even.low < 0 < even.high
    (False, True)
    """

    def __init__(self, alpha: float = 0.05, grid: int = 2001) -> None:
        _check_alpha(alpha)
        self.alpha = alpha
        self._grid = _grid(grid)
        self._bets = _Bets((self._grid + 1) / 2, 1, alpha)
        self._kept = np.ones(grid, dtype=bool)
        self._threshold = math.log(1 / alpha)
        self.n = 0
        self.total = 0.0

    def update(self, d: float) -> tuple[float, float]:
        """Add one paired difference in [-1, 1]; returns the new (low, high)."""
        self._bets.step(_as_x(np.array([float(d)])))
        kept = self._kept & (self._bets.log_capital()[0] < self._threshold)
        if kept.any():  # an empty intersection (a miss, chance ≤ α) keeps the last non-empty one
            self._kept = kept
        self.n += 1
        self.total += float(d)
        return self.interval

    @property
    def interval(self) -> tuple[float, float]:
        low, high = _ends(self._grid, self._kept)
        return float(low), float(high)

    @property
    def low(self) -> float:
        return self.interval[0]

    @property
    def high(self) -> float:
        return self.interval[1]

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def excludes(self, value: float = 0.0) -> bool:
        low, high = self.interval
        return not low < value < high


def confidence_sequence(
    diffs: Sequence[float] | np.ndarray, alpha: float = 0.05, grid: int = 2001
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) after each difference, for one sequence (shape (T,)) or many at once (shape (R, T)).

    >>> low, high = confidence_sequence([1.0] * 30)
    >>> bool(low[15] < 0 < low[16]), bool(np.all(np.diff(low) >= 0))
    (True, True)
    """
    _check_alpha(alpha)
    d = np.asarray(diffs, dtype=float)
    rows = np.atleast_2d(d)
    x = _as_x(rows)
    points = _grid(grid)
    bets = _Bets((points + 1) / 2, rows.shape[0], alpha)
    kept = np.ones((rows.shape[0], grid), dtype=bool)
    low, high = np.empty_like(rows), np.empty_like(rows)
    threshold = math.log(1 / alpha)
    for t in range(rows.shape[1]):
        bets.step(x[:, t])
        new = kept & (bets.log_capital() < threshold)
        kept = np.where(new.any(axis=1, keepdims=True), new, kept)
        low[:, t], high[:, t] = _ends(points, kept)
    return (low[0], high[0]) if d.ndim == 1 else (low, high)


@dataclass(frozen=True)
class Stops:
    """When each simulated run's CS first excluded 0 (1-based item count; inf if never), and on which side."""

    at: np.ndarray
    sign: np.ndarray  # +1: the CS lies above 0 (A ahead), −1: below, 0: never decided


def stopping_times(diffs: np.ndarray, alpha: float = 0.05) -> Stops:
    """For each row of differences (R, T), when and on which side the CS first excludes 0.

    Only the capital at 0 is needed, so this is cheap enough for thousands of simulated runs.

    >>> s = stopping_times(np.array([[1.0] * 30, [0.0] * 30, [-1.0] * 30]))
    >>> s.at.tolist(), s.sign.tolist()
    ([17.0, inf, 17.0], [1, 0, -1])
    """
    _check_alpha(alpha)
    rows = np.atleast_2d(np.asarray(diffs, dtype=float))
    bets = _Bets(np.array([0.5]), rows.shape[0], alpha)
    x = _as_x(rows)
    at = np.full(rows.shape[0], np.inf)
    sign = np.zeros(rows.shape[0], dtype=int)
    threshold = math.log(1 / alpha)
    for t in range(rows.shape[1]):
        bets.step(x[:, t])
        hit = (bets.log_capital()[:, 0] >= threshold) & np.isinf(at)
        at[hit] = t + 1
        sign[hit] = np.where(bets.log_plus[hit, 0] >= bets.log_minus[hit, 0], 1, -1)  # K⁺ bets on a mean above 0
    return Stops(at, sign)


# ---- planning ---------------------------------------------------------------------------------------------


def fixed_n(sd: float, delta: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Items a fixed-N two-sided paired test needs to detect a mean difference `delta` (normal approximation).

    n = ((z_{1−α/2} + z_{power}) · σ / δ)², σ the standard deviation of one paired difference.

    >>> fixed_n(sd=0.5, delta=0.1)
    197
    """
    _check_alpha(alpha)
    if sd <= 0 or delta == 0:
        raise ValueError("need a positive standard deviation and a non-zero difference")
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return math.ceil((z * sd / abs(delta)) ** 2)


def tilt(values: Sequence[float] | np.ndarray, target: float) -> np.ndarray:
    """Probabilities over `values` (exponentially tilted, p_i ∝ exp(η v_i)) whose mean is `target`.

    Keeps the pilot's support, so simulated differences stay within [-1, 1]; η = 0 when the target is the mean.

    >>> p = tilt([-1, 0, 0, 1], 0.25)
    >>> round(float(p @ np.array([-1, 0, 0, 1])), 6)
    0.25
    """
    v = np.asarray(values, dtype=float)
    if not v.min() < target < v.max():
        raise ValueError(f"a mean of {target:g} is outside what the pilot's differences can average to")

    def probs(eta: float) -> np.ndarray:
        w = np.exp(eta * (v - v.max() if eta > 0 else v - v.min()))
        return w / w.sum()

    lo, hi = -1.0, 1.0
    while probs(lo) @ v > target:
        lo *= 2
    while probs(hi) @ v < target:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if probs(mid) @ v < target else (lo, mid)
    return probs((lo + hi) / 2)


@dataclass(frozen=True)
class Simulated:
    """What `--until-decided` would do, over simulated runs: items used (capped) and how often it decides."""

    mean_items: float
    median_items: float
    decided: float  # share of runs that decided within the cap
    runs: int


def simulate_adaptive(
    pilot: Sequence[float] | np.ndarray,
    delta: float,
    cap: int,
    alpha: float = 0.05,
    runs: int = 400,
    seed: int = 0,
) -> Simulated:
    """Items the adaptive run would use: runs of up to `cap` items drawn from the pilot's differences tilted to `delta`.

    >>> s = simulate_adaptive([1, 0, 0, 0, -1, 1, 1, 0], delta=0.5, cap=200)
    >>> 17 <= s.median_items < 60, s.decided == 1.0
    (True, True)
    """
    values = np.asarray(pilot, dtype=float)
    p = tilt(values, delta)
    draws = np.random.default_rng(seed).choice(values, size=(runs, cap), p=p)
    stop = stopping_times(draws, alpha).at
    used = np.minimum(stop, cap)
    return Simulated(float(used.mean()), float(np.median(used)), float(np.isfinite(stop).mean()), runs)
