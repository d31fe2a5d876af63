from __future__ import annotations

import math

import choix
import numpy as np
import pandas as pd
import pytest

from metrics import plackett_luce as pl
from metrics import ratings

TRUE = {"m0": 1300.0, "m1": 1150.0, "m2": 1000.0, "m3": 850.0, "m4": 700.0}  # mean 1000, as the fit centres


def synthetic_rankings(n: int, seed: int, size: int = 3, truth: dict[str, float] = TRUE) -> list[list[str]]:
    """Rankings drawn from Plackett-Luce itself: strengths plus Gumbel noise, sorted (the Gumbel-max trick)."""
    rng = np.random.default_rng(seed)
    names = list(truth)
    strength = {m: r * math.log(10) / 400 for m, r in truth.items()}
    out = []
    for _ in range(n):
        shown = rng.choice(names, size=size, replace=False)
        noisy = [strength[m] + rng.gumbel() for m in shown]
        out.append([str(shown[i]) for i in np.argsort(noisy)[::-1]])
    return out


def test_fit_recovers_the_true_order_and_scale():
    fitted = pl.fit_plackett_luce(synthetic_rankings(1500, seed=1))
    assert list(fitted.index) == ["m0", "m1", "m2", "m3", "m4"]
    assert fitted.mean() == pytest.approx(1000.0)
    for model, true in TRUE.items():
        assert fitted[model] == pytest.approx(true, abs=60)


def test_two_models_match_the_closed_form_and_the_bradley_terry_board():
    rankings = [["x", "y"], ["x", "y"], ["x", "y"], ["y", "x"]]
    fitted = pl.fit_plackett_luce(rankings, alpha=0)
    gap = 400 * math.log10(3)
    assert fitted["x"] == pytest.approx(1000 + gap / 2, abs=1e-2)
    bt = ratings.fit_bradley_terry(pl.pairwise(rankings))
    pd.testing.assert_series_equal(fitted.sort_index(), bt.sort_index(), atol=1e-2)


def test_agrees_with_choix_minorization_maximization():
    # a different algorithm in choix (Hunter's MM) reaches the same maximum likelihood
    rankings = [["a", "b", "c"], ["b", "a", "c"], ["c", "a", "b"], ["a", "c", "b"], ["b", "c", "a"], ["a", "b", "c"]]
    fitted = pl.fit_plackett_luce(rankings, alpha=0)
    index = {"a": 0, "b": 1, "c": 2}
    params = choix.mm_rankings(3, [[index[m] for m in r] for r in rankings])
    expected = 400 / math.log(10) * (params - params.mean()) + 1000
    assert [fitted[m] for m in "abc"] == pytest.approx(list(expected), abs=0.05)
    assert fitted.index[0] == "a"  # first 3 times of 6, last once


def test_where_the_boards_disagree_plackett_luce_reads_the_places():
    # a reversed pair of rankings: every pairwise record is one win, one loss, so Bradley-Terry sees three equals...
    rankings = [["a", "b", "c"], ["c", "b", "a"]]
    bt = ratings.fit_bradley_terry(pl.pairwise(rankings))
    assert bt.max() - bt.min() == pytest.approx(0, abs=1e-3)
    # ...while under Plackett-Luce b, never last, is sqrt(2) times stronger (maximise (x / ((2 + x)(1 + x)))^2)
    fitted = pl.fit_plackett_luce(rankings, alpha=0)
    assert fitted["a"] == pytest.approx(fitted["c"], abs=1e-3)
    assert fitted["b"] - fitted["a"] == pytest.approx(400 * math.log10(math.sqrt(2)), abs=1e-2)


def test_intervals_shrink_with_more_rankings_and_contain_the_fit():
    widths = []
    for n in (30, 300):
        board = pl.leaderboard(synthetic_rankings(n, seed=2), rounds=100, seed=0)
        assert (board["lower"] <= board["rating"]).all() and (board["rating"] <= board["upper"]).all()
        widths.append((board["upper"] - board["lower"]).mean())
    assert widths[1] < widths[0] / 2  # ~sqrt(10) narrower


def test_bootstrap_is_seeded():
    rankings = synthetic_rankings(40, seed=3)
    a = pl.bootstrap_ratings(rankings, rounds=100, seed=7)
    pd.testing.assert_frame_equal(a, pl.bootstrap_ratings(rankings, rounds=100, seed=7))
    assert not a.equals(pl.bootstrap_ratings(rankings, rounds=100, seed=8))


def test_a_model_always_ranked_first_stays_finite_and_on_top():
    rankings = [["top", "b", "c"], ["top", "c", "b"], ["top", "b", "c"]]
    assert not pl.ratings_are_finite(rankings)
    fitted = pl.fit_plackett_luce(rankings)
    assert np.isfinite(fitted).all() and fitted.index[0] == "top"
    board = pl.leaderboard(rankings, rounds=100)
    assert np.isfinite(board[["rating", "lower", "upper"]].to_numpy()).all()
    assert board.loc["top", "first"] == 3 and board.loc["top", "last"] == 0
    with pytest.raises(RuntimeError):  # what the regularisation prevents: no finite maximum
        choix.mm_rankings(3, [[0, 1, 2], [0, 2, 1], [0, 1, 2]], max_iter=200)


def test_regularisation_fades_with_data():
    rankings = synthetic_rankings(200, seed=4)
    gap = pl.fit_plackett_luce(rankings) - pl.fit_plackett_luce(rankings, alpha=0)
    assert gap.abs().max() < 2  # Elo points


def test_rankings_of_different_sizes_and_absent_models():
    rankings = [["a", "b", "c", "d"], ["b", "a"], ["c", "d", "a"], ["d", "c", "b", "a"], ["a", "d"]]
    boot = pl.bootstrap_ratings(rankings, rounds=100, seed=1)
    assert list(boot.columns) == ["a", "b", "c", "d"]
    assert boot.notna().to_numpy().mean() > 0.9  # a model missing from a resample is NaN in that round only
    assert np.allclose(boot.mean(axis=1, skipna=True), 1000)  # each round centred on the models it saw


@pytest.mark.parametrize(
    ("rankings", "message"),
    [
        ([], "no rankings"),
        ([["a"]], "at least two"),
        ([["a", "b", "a"]], "each model once"),
        ([["a", ""]], "each model once"),
    ],
)
def test_bad_rankings_are_refused(rankings, message):
    with pytest.raises(ValueError, match=message):
        pl.fit_plackett_luce(rankings)


def test_too_few_rounds_are_refused():
    with pytest.raises(ValueError, match="at least 100"):
        pl.bootstrap_ratings([["a", "b"]], rounds=10)
