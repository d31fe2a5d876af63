from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from metrics import ratings as r

TRUE = {"m0": 1300.0, "m1": 1150.0, "m2": 1000.0, "m3": 850.0, "m4": 700.0}  # mean 1000, as the fit centres


def synthetic_votes(n: int, seed: int, truth: dict[str, float] = TRUE) -> list[tuple[str, str, str]]:
    """Votes drawn from the Bradley-Terry model itself, sides shuffled."""
    rng = np.random.default_rng(seed)
    names = list(truth)
    votes = []
    for _ in range(n):
        a, b = rng.choice(names, size=2, replace=False)
        p_a = 1 / (1 + 10 ** ((truth[b] - truth[a]) / 400))
        votes.append((str(a), str(b), "a" if rng.random() < p_a else "b"))
    return votes


def test_fit_recovers_the_true_order_and_scale():
    fitted = r.fit_bradley_terry(synthetic_votes(4000, seed=1))
    assert list(fitted.index) == ["m0", "m1", "m2", "m3", "m4"]
    assert fitted.mean() == pytest.approx(1000.0)
    for model, true in TRUE.items():
        assert fitted[model] == pytest.approx(true, abs=60)


def test_two_model_closed_form():
    # x wins 3 of 4 -> odds 3 -> x - y = 400 * log10(3), centred on 1000
    fitted = r.fit_bradley_terry([("x", "y", "a"), ("y", "x", "b"), ("x", "y", "a"), ("y", "x", "a")])
    gap = 400 * math.log10(3)
    assert fitted["x"] == pytest.approx(1000 + gap / 2, abs=1e-2)
    assert fitted["y"] == pytest.approx(1000 - gap / 2, abs=1e-2)


def test_ties_count_half_a_win_each_way_and_both_bad_is_a_tie():
    base = [("x", "y", "a"), ("y", "z", "a"), ("z", "x", "a"), ("x", "z", "a")]
    with_ties = r.fit_bradley_terry([*base, ("x", "y", "tie"), ("x", "y", "tie")])
    with_split = r.fit_bradley_terry([*base, ("x", "y", "a"), ("x", "y", "b")])
    with_both_bad = r.fit_bradley_terry([*base, ("x", "y", "both_bad"), ("y", "x", "both_bad")])
    pd.testing.assert_series_equal(with_ties.sort_index(), with_split.sort_index(), atol=1e-2)
    pd.testing.assert_series_equal(with_ties.sort_index(), with_both_bad.sort_index(), atol=1e-2)
    # and ties do move the ratings: without them x's record is better
    assert r.fit_bradley_terry(base)["x"] > with_ties["x"] + 1


def test_side_does_not_matter():
    votes = synthetic_votes(300, seed=5)
    flipped = [(b, a, {"a": "b", "b": "a"}[o]) for a, b, o in votes]
    pd.testing.assert_series_equal(
        r.fit_bradley_terry(votes).sort_index(), r.fit_bradley_terry(flipped).sort_index(), atol=1e-2
    )


def test_bootstrap_intervals_cover_the_true_ratings():
    board = r.leaderboard(synthetic_votes(1500, seed=7), rounds=200, seed=0)
    covered = [board.loc[m, "lower"] <= true <= board.loc[m, "upper"] for m, true in TRUE.items()]
    assert sum(covered) >= 4, board
    assert (board["lower"] <= board["rating"]).all() and (board["rating"] <= board["upper"]).all()
    widths = board["upper"] - board["lower"]
    assert (widths > 10).all() and (widths < 250).all()  # real intervals, neither degenerate nor useless


def test_more_votes_give_narrower_intervals():
    small = r.leaderboard(synthetic_votes(300, seed=3), rounds=100, seed=0)
    large = r.leaderboard(synthetic_votes(3000, seed=3), rounds=100, seed=0)
    assert (large["upper"] - large["lower"]).mean() < (small["upper"] - small["lower"]).mean() / 2


def test_bootstrap_is_seeded_and_needs_enough_rounds():
    votes = synthetic_votes(200, seed=2)
    one = r.bootstrap_ratings(votes, rounds=100, seed=42)
    pd.testing.assert_frame_equal(one, r.bootstrap_ratings(votes, rounds=100, seed=42))
    assert not one.equals(r.bootstrap_ratings(votes, rounds=100, seed=43))
    assert one.shape == (100, 5)
    with pytest.raises(ValueError, match="at least 100"):
        r.bootstrap_ratings(votes, rounds=99)


def test_model_missing_from_a_resample_is_left_out_of_that_round():
    votes = [*synthetic_votes(60, seed=4), ("m0", "rare", "b")]  # "rare" fought once: absent in ~37% of rounds
    boot = r.bootstrap_ratings(votes, rounds=100, seed=0)
    missing = boot["rare"].isna()
    assert 15 < missing.sum() < 60
    assert boot.loc[missing].drop(columns="rare").notna().all().all()
    # each round's ratings are centred on the models present in it
    assert boot.mean(axis=1).to_numpy() == pytest.approx(np.full(100, 1000.0))


def test_rank_rule_on_a_hand_made_case():
    lower = pd.Series({"a": 1200.0, "b": 1100.0, "c": 1050.0, "d": 900.0, "e": 800.0})
    upper = pd.Series({"a": 1300.0, "b": 1210.0, "c": 1150.0, "d": 1060.0, "e": 880.0})
    # a: nobody's lower > 1300 -> 1. b: a's 1200 !> 1210 -> 1. c: a's 1200 > 1150 -> 2.
    # d: a, b (1100 > 1060) -> 3; c's 1050 !> 1060. e: a, b, c, d (900 > 880) -> 5.
    assert r.rank_by_intervals(lower, upper).to_dict() == {"a": 1, "b": 1, "c": 2, "d": 3, "e": 5}


def test_leaderboard_columns_records_and_order():
    votes = [*synthetic_votes(400, seed=11), ("m0", "m4", "tie"), ("m4", "m0", "both_bad")]
    board = r.leaderboard(votes, rounds=100, seed=1)
    assert list(board.columns) == ["rating", "lower", "upper", "rank", "battles", "wins", "losses", "ties"]
    assert board.index.name == "model" and board.index[0] == "m0"
    assert list(board["rank"]) == sorted(board["rank"])
    assert board.loc["m0", "ties"] == 2 and board.loc["m4", "ties"] == 2
    assert (board["wins"] + board["losses"] + board["ties"] == board["battles"]).all()
    assert board["battles"].sum() == 2 * len(votes)
    assert board["wins"].sum() == board["losses"].sum()


def test_win_rate_and_battle_count_matrices():
    votes = [
        ("x", "y", "a"),
        ("x", "y", "a"),
        ("y", "x", "a"),
        ("x", "y", "tie"),
        ("y", "z", "both_bad"),
        ("z", "y", "a"),
    ]
    counts = r.battle_counts(votes)
    assert counts.to_dict("index") == {
        "x": {"x": 0, "y": 4, "z": 0},
        "y": {"x": 4, "y": 0, "z": 2},
        "z": {"x": 0, "y": 2, "z": 0},
    }
    rates = r.win_rates(votes)
    assert rates.loc["x", "y"] == pytest.approx((2 + 0.5) / 4)  # two wins, one loss, one tie
    assert rates.loc["y", "x"] == pytest.approx((1 + 0.5) / 4)
    assert rates.loc["z", "y"] == pytest.approx((1 + 0.5) / 2)
    assert np.isnan(rates.loc["x", "z"]) and np.isnan(rates.loc["x", "x"])
    played = counts > 0
    assert np.allclose((rates + rates.T).to_numpy()[played.to_numpy()], 1.0)


def test_matrices_follow_a_given_order():
    votes = [("x", "y", "a"), ("y", "z", "a")]
    order = ["z", "y", "x"]
    assert list(r.win_rates(votes, order).index) == order and list(r.win_rates(votes, order).columns) == order
    assert list(r.battle_counts(votes, order).columns) == order


def test_unbeaten_models_are_flagged_and_still_give_finite_numbers():
    votes = [("x", "y", "a"), ("x", "y", "a"), ("y", "z", "a"), ("z", "y", "a")]
    assert r.ratings_are_finite(votes) is False
    fitted = r.fit_bradley_terry(votes)
    assert np.isfinite(fitted).all() and fitted.index[0] == "x"
    assert r.ratings_are_finite([*votes, ("y", "x", "tie")]) is True  # a tie links x back
    assert r.ratings_are_finite(synthetic_votes(200, seed=9)) is True
    # two groups that never met: ratings across them mean nothing
    assert r.ratings_are_finite([("a", "b", "a"), ("b", "a", "a"), ("c", "d", "a"), ("d", "c", "a")]) is False


@pytest.mark.parametrize(
    ("votes", "message"),
    [
        ([], "no votes"),
        ([("x", "y", "A")], "outcome 'A'"),
        ([("x", "y", "model_a")], "outcome"),
        ([("x", "x", "a")], "two different models"),
        ([("x", "", "a")], "two different models"),
        ([("x", "y")], "expected (model_a, model_b, outcome)"),
    ],
)
def test_invalid_votes_are_refused_with_their_index(votes, message):
    with pytest.raises(ValueError) as info:
        r.fit_bradley_terry(votes)
    assert message in str(info.value)
