"""Leaderboards from pairwise outcomes (human votes or judge verdicts) and from whole rankings, for the
Leaderboard page.

The statistics are metrics.ratings' (FastChat's Bradley-Terry fit on the Elo scale, 95% bootstrap
intervals, rank = 1 + models clearly better) and metrics.plackett_luce's (the same for rankings, on the
same scale); this module adds what a reader needs to trust a row: a row is *provisional* when its model
has fewer than MIN_BATTLES battles (or rankings), or when the ratings do not exist as finite numbers
(some model never lost, or never won, against the rest: the fit then only says "far above" or "far
below", see metrics.ratings.ratings_are_finite and metrics.plackett_luce.ratings_are_finite).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from bakeoff.records import Ranking, Vote
from metrics import plackett_luce, ratings

MIN_BATTLES = 10  # fewer battles than this: the model's row is provisional
BOOTSTRAP_ROUNDS = 100  # FastChat's notebook default; the least metrics.ratings accepts for a 95% interval
NOT_FINITE = "some model has never lost (or never won) against the others, so the ratings are bounds, not estimates"
RANKING_ROUNDS = 200  # resampled rankings per interval: fits are cheap, and 2.5% tails want more than 100
NOT_FINITE_RANKINGS = (
    "some model was always ranked first (or always last), so its rating is held finite only by "
    "regularisation: it says far above (or far below), not how far"
)


@dataclass(frozen=True)
class Board:
    table: pd.DataFrame  # one row per model, best first: rank, model, rating, lower, upper, record, provisional
    finite: bool
    n_votes: int
    win_rates: pd.DataFrame  # row model's share of wins against the column model (ties half)
    battles: pd.DataFrame  # battle counts per pair


def as_triples(votes: Sequence[Vote]) -> list[tuple[str, str, str]]:
    return [(v.model_a, v.model_b, v.outcome) for v in votes]


def build(
    votes: Sequence[Sequence[str]],
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
    min_battles: int = MIN_BATTLES,
) -> Board | None:
    """The leaderboard of (model_a, model_b, outcome) votes; None when there are none.

    >>> board = build([("x", "y", "a"), ("y", "x", "a"), ("x", "y", "tie")] * 4)
    >>> board.table[["model", "rank", "battles", "provisional"]].to_dict("records")
    [{'model': 'x', 'rank': 1, 'battles': 12, 'provisional': False}, \
{'model': 'y', 'rank': 1, 'battles': 12, 'provisional': False}]
    """
    votes = [tuple(v) for v in votes]
    if not votes:
        return None
    finite = ratings.ratings_are_finite(votes)
    table = ratings.leaderboard(votes, rounds=rounds, seed=seed).reset_index()
    notes = []
    for row in table.itertuples():
        why = []
        if not finite:
            if row.losses == 0 and row.wins > 0 and row.ties == 0:
                why.append("never lost: rating is a lower bound")
            elif row.wins == 0 and row.losses > 0 and row.ties == 0:
                why.append("never won: rating is an upper bound")
            else:
                why.append("ratings not finite")
        why += _too_few(row.battles, min_battles, "battle")
        notes.append("; ".join(why))
    table["provisional"] = [bool(n) for n in notes]
    table["note"] = notes
    table["rank"] = table["rank"].astype(int)
    for col in ("battles", "wins", "losses", "ties"):
        table[col] = table[col].astype(int)
    order = list(table["model"])
    return Board(
        table=table[
            ["rank", "model", "rating", "lower", "upper", "battles", "wins", "losses", "ties", "provisional", "note"]
        ],
        finite=finite,
        n_votes=len(votes),
        win_rates=ratings.win_rates(votes, order),
        battles=ratings.battle_counts(votes, order),
    )


def _too_few(count: int, minimum: int, noun: str) -> list[str]:
    return [f"only {count} {noun}{'s' if count != 1 else ''} (< {minimum})"] if count < minimum else []


@dataclass(frozen=True)
class RankingBoard:
    table: pd.DataFrame  # one row per model, best first: rank, model, rating, lower, upper, rankings, first, last,
    # provisional, note
    finite: bool
    n_rankings: int


def as_orders(rankings: Sequence[Ranking]) -> list[tuple[str, ...]]:
    return [tuple(r.models) for r in rankings]


def build_rankings(
    rankings: Sequence[Sequence[str]],
    *,
    rounds: int = RANKING_ROUNDS,
    seed: int = 0,
    min_rankings: int = MIN_BATTLES,
) -> RankingBoard | None:
    """The Plackett-Luce board of rankings (model names, best first); None when there are none.

    Provisional by the Bradley-Terry board's rules, counting rankings where it counts battles.

    >>> board = build_rankings([("x", "y", "z"), ("z", "y", "x")], rounds=100)
    >>> board.table[["model", "rankings", "provisional"]].to_dict("records")[0]
    {'model': 'y', 'rankings': 2, 'provisional': True}
    """
    rankings = [tuple(r) for r in rankings]
    if not rankings:
        return None
    finite = plackett_luce.ratings_are_finite(rankings)
    table = plackett_luce.leaderboard(rankings, rounds=rounds, seed=seed).reset_index()
    notes = []
    for row in table.itertuples():
        why = []
        if not finite:
            if row.first == row.rankings:
                why.append("always ranked first: rating only says far above")
            elif row.last == row.rankings:
                why.append("always ranked last: rating only says far below")
            else:
                why.append("ratings held finite by regularisation")
        why += _too_few(row.rankings, min_rankings, "ranking")
        notes.append("; ".join(why))
    table["provisional"] = [bool(n) for n in notes]
    table["note"] = notes
    for col in ("rank", "rankings", "first", "last"):
        table[col] = table[col].astype(int)
    columns = ["rank", "model", "rating", "lower", "upper", "rankings", "first", "last", "provisional", "note"]
    return RankingBoard(table=table[columns], finite=finite, n_rankings=len(rankings))
