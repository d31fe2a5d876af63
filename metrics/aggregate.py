"""Aggregates over many calls: summary statistics, percentile-bootstrap CIs, paired comparisons.

Pure functions over plain numbers. Missing values (None, NaN) are dropped, never read as 0: a
failed call has no latency and no score, and counting it as zero would flatter or punish a model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

Stat = str | Callable[[np.ndarray], float]
_NAMED = {"mean": np.mean, "median": np.median}


def clean(values: Iterable[float | None]) -> np.ndarray:
    """The finite values as a float array (None and NaN dropped).

    >>> clean([1, None, float("nan"), 2.5]).tolist()
    [1.0, 2.5]
    """
    out = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return np.asarray([v for v in out if math.isfinite(v)], dtype=float)


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float | None
    median: float | None
    p95: float | None


def summarize(values: Iterable[float | None]) -> Summary:
    """Count, mean, median and 95th percentile (linear interpolation, numpy's default).

    >>> s = summarize([1, 2, 3, 4, None])
    >>> s.n, s.mean, s.median, round(s.p95, 6)
    (4, 2.5, 2.5, 3.85)
    >>> summarize([]).mean is None
    True
    """
    arr = clean(values)
    if arr.size == 0:
        return Summary(0, None, None, None)
    return Summary(int(arr.size), float(arr.mean()), float(np.median(arr)), float(np.percentile(arr, 95)))


@dataclass(frozen=True)
class Interval:
    estimate: float | None  # the statistic on the data itself
    low: float | None
    high: float | None
    n: int
    level: float

    def __str__(self) -> str:
        if self.estimate is None:
            return "n/a"
        if self.low is None or self.high is None:
            return f"{self.estimate:.3g}"
        return f"{self.estimate:.3g} [{self.low:.3g}, {self.high:.3g}]"


def _stat_fn(stat: Stat) -> Callable[[np.ndarray], np.ndarray]:
    """A function of a 2-D array of resamples (one per row) returning one value per row."""
    if isinstance(stat, str):
        fn = _NAMED.get(stat)
        if fn is None:
            raise ValueError(f"unknown statistic {stat!r}; use one of {', '.join(_NAMED)} or a callable")
        return lambda rows: fn(rows, axis=1)
    return lambda rows: np.apply_along_axis(stat, 1, rows)


def bootstrap_ci(
    values: Iterable[float | None],
    stat: Stat = "mean",
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap confidence interval of `stat` (seeded, so the same data gives the same CI).

    Fewer than two values give the estimate with no interval: one call says nothing about spread.

    >>> bootstrap_ci([3, 3, 3, 3])
    Interval(estimate=3.0, low=3.0, high=3.0, n=4, level=0.95)
    >>> ci = bootstrap_ci(range(100))
    >>> 43 < ci.low < 49.5 < ci.high < 56  # mean ± about 1.96 × 2.9 (the standard error)
    True
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    arr = clean(values)
    fn = _stat_fn(stat)
    if arr.size == 0:
        return Interval(None, None, None, 0, level)
    estimate = float(fn(arr[None, :])[0])
    if arr.size < 2:
        return Interval(estimate, None, None, int(arr.size), level)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_resamples, arr.size))
    stats = fn(arr[idx])
    alpha = (1 - level) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), int(arr.size), level)


@dataclass(frozen=True)
class PairedComparison:
    """Model A against model B on the same items (differences are A − B)."""

    n: int  # items both models have a value for
    mean_diff: Interval
    wins: int  # items where A is better (by the metric's direction)
    ties: int
    losses: int

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.n if self.n else None

    @property
    def tie_rate(self) -> float | None:
        return self.ties / self.n if self.n else None

    @property
    def loss_rate(self) -> float | None:
        return self.losses / self.n if self.n else None


def paired_comparison(
    a: Sequence[float | None],
    b: Sequence[float | None],
    *,
    higher_is_better: bool = True,
    tie_tolerance: float = 0.0,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Mean of A − B with a bootstrap CI over items, and win/tie/loss counts.

    `a[i]` and `b[i]` must be the same item; an item missing either value is left out. A difference
    within `tie_tolerance` is a tie. For latency or cost pass `higher_is_better=False`.

    >>> pc = paired_comparison([1, 0, 1, 1], [0, 0, 1, 0])
    >>> pc.n, pc.wins, pc.ties, pc.losses, pc.mean_diff.estimate
    (4, 2, 2, 0, 0.5)
    """
    if len(a) != len(b):
        raise ValueError(f"paired values need the same items: {len(a)} against {len(b)}")
    pairs = [(float(x), float(y)) for x, y in zip(a, b, strict=True) if _present(x) and _present(y)]
    diffs = np.asarray([x - y for x, y in pairs], dtype=float)
    better = diffs if higher_is_better else -diffs
    wins = int((better > tie_tolerance).sum())
    losses = int((better < -tie_tolerance).sum())
    return PairedComparison(
        n=len(pairs),
        mean_diff=bootstrap_ci(diffs, "mean", n_resamples=n_resamples, level=level, seed=seed),
        wins=wins,
        ties=len(pairs) - wins - losses,
        losses=losses,
    )


def _present(v: float | None) -> bool:
    return v is not None and math.isfinite(float(v))
