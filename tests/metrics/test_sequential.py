"""The betting confidence sequence on simulated data with a known mean: it covers the mean at every time in
all but ≤ α of runs (where peeking at an ordinary interval does not), shrinks with n, and decides alike in
its three forms; the planner's fixed-N size reaches its power."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.sequential import (
    BettingCS,
    confidence_sequence,
    fixed_n,
    simulate_adaptive,
    stopping_times,
    tilt,
)

RUNS, STEPS, ALPHA = 500, 150, 0.05
SLACK = 3 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)  # three Monte-Carlo standard errors


@st.composite
def distributions(draw) -> tuple[np.ndarray, np.ndarray]:
    """A discrete distribution on [-1, 1]: up to four support points (a pass/fail difference has three)."""
    k = draw(st.integers(1, 4))
    support = np.array(draw(st.lists(st.floats(-1, 1), min_size=k, max_size=k)))
    weights = np.array(draw(st.lists(st.floats(0.05, 1), min_size=k, max_size=k)))
    return support, weights / weights.sum()


def sample(support: np.ndarray, p: np.ndarray, seed: int, runs: int = RUNS, steps: int = STEPS) -> np.ndarray:
    return np.random.default_rng(seed).choice(support, size=(runs, steps), p=p)


def miss_rate(low: np.ndarray, high: np.ndarray, mu: float) -> float:
    """Share of runs whose interval misses mu at any time."""
    return float(np.mean(np.any((mu <= low) | (mu >= high), axis=1)))


def peeking_normal_interval(d: np.ndarray, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """The wrong way: a fixed-N 95% interval recomputed after every item (the bug a CS exists to avoid)."""
    n = np.arange(1, d.shape[1] + 1)
    mean = np.cumsum(d, axis=1) / n
    var = np.maximum(np.cumsum(d**2, axis=1) / n - mean**2, 1e-12) * n / np.maximum(n - 1, 1)
    half = NormalDist().inv_cdf(1 - alpha / 2) * np.sqrt(var / n)
    half[:, :10] = np.inf  # even granting it ten items before the first look
    return mean - half, mean + half


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(dist=distributions(), seed=st.integers(0, 2**32 - 1))
def test_it_misses_the_true_mean_at_any_time_in_at_most_alpha_of_runs(dist, seed):
    support, p = dist
    mu = float(support @ p)
    low, high = confidence_sequence(sample(support, p, seed), alpha=ALPHA, grid=401)
    assert miss_rate(low, high, mu) <= ALPHA + SLACK


def test_the_coverage_check_catches_an_interval_that_peeks():
    support, p = np.array([-1.0, 0.0, 1.0]), np.array([0.3, 0.4, 0.3])
    d = sample(support, p, seed=7, steps=300)
    assert miss_rate(*peeking_normal_interval(d), 0.0) > ALPHA + SLACK  # so the test above can fail
    assert miss_rate(*confidence_sequence(d, alpha=ALPHA, grid=401), 0.0) <= ALPHA


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(dist=distributions(), seed=st.integers(0, 2**32 - 1))
def test_the_width_never_grows_and_shrinks_with_n(dist, seed):
    support, p = dist
    low, high = confidence_sequence(sample(support, p, seed, runs=1, steps=400)[0], grid=801)
    width = high - low
    assert np.all(np.diff(width) <= 1e-12)
    assert width[0] == 2.0  # one item says nothing yet
    assert width[399] < width[99] < width[9]


def test_the_width_shrinks_roughly_like_one_over_root_n():
    d = sample(np.array([-1.0, 0.0, 1.0]), np.array([0.25, 0.5, 0.25]), seed=3, runs=50, steps=1600)
    low, high = confidence_sequence(d)
    w100, w1600 = np.mean((high - low)[:, 99]), np.mean((high - low)[:, 1599])
    assert 2.5 < w100 / w1600 < 5.5  # 4× for 1/√n; the log log n factor and the bet cap move it a little


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]), min_size=1, max_size=60))
def test_the_three_forms_decide_at_the_same_item(diffs):
    cs = BettingCS()
    incremental = [cs.update(d) for d in diffs]
    low, high = confidence_sequence(diffs)
    assert incremental == list(zip(low.tolist(), high.tolist(), strict=True))
    first = next((t + 1 for t, (lo, hi) in enumerate(incremental) if not lo < 0 < hi), math.inf)
    stops = stopping_times(np.array([diffs]))
    assert stops.at[0] == first
    assert stops.sign[0] == (0 if first == math.inf else 1 if incremental[-1][0] >= 0 else -1)
    assert cs.excludes(0) == (first <= len(diffs))


def test_a_clear_winner_is_decided_early_and_the_sign_says_which():
    stops = stopping_times(np.array([[1.0] * 40, [-1.0] * 40]), alpha=0.05)
    assert stops.at.tolist() == [17.0, 17.0] and stops.sign.tolist() == [1, -1]
    stricter = stopping_times(np.array([[1.0] * 40]), alpha=0.01).at[0]
    assert stricter > 17
    cs = BettingCS()
    for _ in range(20):
        cs.update(-1.0)
    assert cs.high <= 0 and cs.low == -1.0 and cs.mean == -1.0


@pytest.mark.parametrize("bad", [1.5, -1.01, float("nan"), float("inf")])
def test_differences_outside_minus_one_to_one_are_refused(bad):
    with pytest.raises(ValueError, match="within"):
        BettingCS().update(bad)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="alpha"):
        BettingCS(alpha=0)
    with pytest.raises(ValueError, match="odd"):
        BettingCS(grid=100)
    with pytest.raises(ValueError, match="non-zero"):
        fixed_n(sd=0.5, delta=0)


def test_fixed_n_is_the_normal_formula_and_reaches_its_power():
    z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
    assert fixed_n(1.0, 0.5) == math.ceil((z * 1.0 / 0.5) ** 2) == 32
    n = fixed_n(sd=0.8, delta=0.2)
    rng = np.random.default_rng(0)
    d = rng.choice([-1.0, 0.0, 1.0], size=(4000, n), p=[0.2, 0.4, 0.4])  # mean 0.2, sd 0.75
    t = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
    assert 0.8 <= np.mean(t > NormalDist().inv_cdf(0.975)) <= 0.9  # sd 0.75 < 0.8 planned: a little over


def test_tilt_moves_the_mean_keeps_the_support_and_refuses_the_impossible():
    pilot = [-1.0, 0.0, 0.0, 1.0, 1.0]
    for target in (-0.5, 0.0, 0.2, 0.9):
        p = tilt(pilot, target)
        assert p.sum() == pytest.approx(1) and float(p @ np.array(pilot)) == pytest.approx(target, abs=1e-9)
    assert tilt(pilot, 0.2) == pytest.approx(np.full(5, 0.2))  # the pilot's own mean: no tilt
    with pytest.raises(ValueError, match="outside"):
        tilt(pilot, 1.0)


def test_a_bigger_difference_needs_fewer_simulated_items():
    pilot = [1, 0, 0, 0, -1, 1, 0, 1, 0, -1]
    small, big = (simulate_adaptive(pilot, delta, cap=400, runs=200) for delta in (0.1, 0.4))
    assert big.mean_items < small.mean_items and big.decided > small.decided
    assert big.decided == 1.0 and small.mean_items <= 400
