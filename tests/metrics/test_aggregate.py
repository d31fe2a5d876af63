"""Summary stats, bootstrap CIs and paired comparisons on data whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from metrics.aggregate import bootstrap_ci, clean, paired_comparison, summarize


def test_summary_matches_numpy_and_drops_missing():
    data = [0.5, 1.5, None, 2.0, float("nan"), 10.0]
    s = summarize(data)
    arr = np.array([0.5, 1.5, 2.0, 10.0])
    assert (s.n, s.mean, s.median) == (4, 3.5, 1.75)
    assert s.p95 == pytest.approx(np.percentile(arr, 95)) == pytest.approx(8.8)  # 2.0 + 0.85 × 8


def test_constant_data_has_a_zero_width_interval():
    ci = bootstrap_ci([0.7] * 30)
    assert ci.estimate == ci.low == ci.high == pytest.approx(0.7)


def test_single_value_has_no_interval_and_empty_has_nothing():
    assert (bootstrap_ci([2.0]).estimate, bootstrap_ci([2.0]).low) == (2.0, None)
    assert bootstrap_ci([None]).estimate is None and bootstrap_ci([]).n == 0


def test_percentile_bootstrap_is_the_quantiles_of_resampled_means():
    data = np.array([1.0, 4.0, 2.0, 8.0, 5.0, 7.0, 3.0, 6.0])
    ci = bootstrap_ci(data, "mean", n_resamples=500, seed=7)
    rng = np.random.default_rng(7)  # the same draws, done by hand
    means = data[rng.integers(0, data.size, size=(500, data.size))].mean(axis=1)
    assert (ci.low, ci.high) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))
    assert ci.estimate == 4.5


def test_interval_agrees_with_scipy_percentile_bootstrap():
    data = np.random.default_rng(1).normal(10.0, 2.0, size=200)
    ours = bootstrap_ci(data, "mean", n_resamples=4000)
    theirs = scipy_stats.bootstrap((data,), np.mean, n_resamples=4000, method="percentile", random_state=3)
    assert ours.low == pytest.approx(theirs.confidence_interval.low, abs=0.08)
    assert ours.high == pytest.approx(theirs.confidence_interval.high, abs=0.08)
    # and the normal-theory interval, mean ± 1.96 s/√n, is close for n = 200
    half = 1.96 * data.std(ddof=1) / np.sqrt(data.size)
    assert ours.low == pytest.approx(data.mean() - half, abs=0.1)
    assert ours.high == pytest.approx(data.mean() + half, abs=0.1)


def test_median_and_callable_statistics():
    data = [1, 2, 3, 4, 100]
    assert bootstrap_ci(data, "median").estimate == 3.0
    assert bootstrap_ci(data, lambda x: float(np.max(x))).estimate == 100.0
    with pytest.raises(ValueError, match="unknown statistic"):
        bootstrap_ci(data, "mode")
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(data, level=1.5)


def test_same_seed_same_interval():
    data = list(range(20))
    assert bootstrap_ci(data, seed=5) == bootstrap_ci(data, seed=5)


def test_paired_comparison_counts_and_difference():
    a = [0.9, 0.8, 0.5, None, 0.7, 0.6]
    b = [0.5, 0.8, 0.6, 0.9, 0.2, 0.6]
    pc = paired_comparison(a, b)
    assert pc.n == 5  # the item missing A's value is left out
    assert (pc.wins, pc.ties, pc.losses) == (2, 2, 1)
    assert pc.mean_diff.estimate == pytest.approx((0.4 + 0 - 0.1 + 0.5 + 0) / 5)
    assert (pc.win_rate, pc.tie_rate, pc.loss_rate) == pytest.approx((0.4, 0.4, 0.2))
    assert pc.mean_diff.low <= pc.mean_diff.estimate <= pc.mean_diff.high


def test_paired_comparison_for_lower_is_better_and_tolerance():
    latency_a, latency_b = [1.0, 2.0, 3.0], [1.5, 2.05, 2.0]
    pc = paired_comparison(latency_a, latency_b, higher_is_better=False, tie_tolerance=0.1)
    assert (pc.wins, pc.ties, pc.losses) == (1, 1, 1)


def test_identical_models_tie_everywhere_with_zero_width_ci():
    pc = paired_comparison([1, 2, 3], [1, 2, 3])
    assert (pc.ties, pc.mean_diff.low, pc.mean_diff.high) == (3, 0.0, 0.0)


def test_paired_needs_the_same_items():
    with pytest.raises(ValueError, match="same items"):
        paired_comparison([1, 2], [1])
    assert paired_comparison([None], [1]).win_rate is None


def test_clean_drops_infinities():
    assert clean([1, float("inf"), 2]).tolist() == [1.0, 2.0]
