"""bakeoff.leaderboard.build_rankings: the Plackett-Luce board's rows and provisional notes."""

from __future__ import annotations

from bakeoff import leaderboard
from bakeoff.records import Ranking


def test_no_rankings_no_board():
    assert leaderboard.build_rankings([]) is None


def test_enough_varied_rankings_are_not_provisional_and_keep_the_order():
    orders = [("a", "b", "c"), ("b", "a", "c"), ("a", "c", "b"), ("c", "a", "b")] * 3
    board = leaderboard.build_rankings(orders, rounds=100)
    assert board.finite and board.n_rankings == 12
    assert board.table["model"].iloc[0] == "a" and not board.table["provisional"].any()
    assert list(board.table["note"]) == ["", "", ""]
    assert board.table.loc[0, "first"] == 6 and board.table.loc[0, "rankings"] == 12


def test_always_last_and_few_rankings_are_named():
    board = leaderboard.build_rankings([("a", "b", "z"), ("b", "a", "z")] * 5, rounds=100)
    assert not board.finite
    notes = dict(zip(board.table["model"], board.table["note"], strict=True))
    assert notes["z"] == "always ranked last: rating only says far below"
    assert notes["a"] == notes["b"] == "ratings held finite by regularisation"
    few = leaderboard.build_rankings([("a", "b"), ("b", "a")], rounds=100)
    assert list(few.table["note"]) == ["only 2 rankings (< 10)"] * 2


def test_orders_come_from_stored_rankings():
    stored = [Ranking(run_id="r1", models=["x", "y", "z"]), Ranking(run_id="r2", models=["z", "x"])]
    assert leaderboard.as_orders(stored) == [("x", "y", "z"), ("z", "x")]
