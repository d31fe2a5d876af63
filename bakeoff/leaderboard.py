"""Leaderboards from pairwise outcomes (human votes or judge verdicts), ready for the Leaderboard page.

The statistics are metrics.ratings' (FastChat's Bradley-Terry fit on the Elo scale, 95% bootstrap
intervals, rank = 1 + models clearly better); this module adds what a reader needs to trust a row:
a row is *provisional* when its model has fewer than MIN_BATTLES battles, or when the ratings do not
exist as finite numbers (some model never lost, or never won, against the rest: the fit then only says
"far above" or "far below", see metrics.ratings.ratings_are_finite).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from bakeoff.records import Vote
from metrics import ratings

MIN_BATTLES = 10  # fewer battles than this: the model's row is provisional
BOOTSTRAP_ROUNDS = 100  # FastChat's notebook default; the least metrics.ratings accepts for a 95% interval
NOT_FINITE = "some model has never lost (or never won) against the others, so the ratings are bounds, not estimates"


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
        if row.battles < min_battles:
            why.append(f"only {row.battles} battle{'s' if row.battles != 1 else ''} (< {min_battles})")
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
