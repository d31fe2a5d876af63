"""Render one leaderboard: the ratings table, provisional notes, win-rate and battle-count heat maps; or the
Plackett-Luce board of rankings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from bakeoff import leaderboard
from ui.leaderboard_charts import battle_count_heatmap, win_rate_heatmap


@st.cache_data(show_spinner="Fitting ratings…", max_entries=32)
def _board(votes: tuple[tuple[str, str, str], ...]) -> leaderboard.Board | None:
    return leaderboard.build(votes)


_RATING_COLUMNS = {
    "rank": st.column_config.NumberColumn("rank", help="1 + number of models clearly better (CI above)"),
    "rating": st.column_config.NumberColumn("rating", format="%.0f", help="Elo scale; mean 1000"),
    "lower": st.column_config.NumberColumn("95% CI low", format="%.0f"),
    "upper": st.column_config.NumberColumn("95% CI high", format="%.0f"),
}


def render_board(votes: Sequence[Sequence[str]], key: str) -> None:
    board = _board(tuple(tuple(v) for v in votes))
    if board is None:
        return
    models = len(board.table)
    st.caption(f"{board.n_votes} outcome{'s' if board.n_votes != 1 else ''} between {models} models.")
    _rating_table(
        board.table,
        None if board.finite else f"{leaderboard.NOT_FINITE}. More varied outcomes will settle them.",
        key,
        {
            "provisional": st.column_config.CheckboxColumn(
                "provisional", help=f"Fewer than {leaderboard.MIN_BATTLES} battles, or ratings not finite"
            ),
        },
    )
    if models < 2:
        return
    left, right = st.columns(2)
    left.plotly_chart(win_rate_heatmap(board.win_rates), key=f"{key}_winrate")
    right.plotly_chart(battle_count_heatmap(board.battles), key=f"{key}_battles")


@st.cache_data(show_spinner="Fitting rankings…", max_entries=32)
def _ranking_board(rankings: tuple[tuple[str, ...], ...]) -> leaderboard.RankingBoard | None:
    return leaderboard.build_rankings(rankings)


def render_ranking_board(rankings: Sequence[Sequence[str]], key: str) -> None:
    board = _ranking_board(tuple(tuple(r) for r in rankings))
    if board is None:
        return
    n = board.n_rankings
    st.caption(f"{n} ranking{'s' if n != 1 else ''} of {len(board.table)} models.")
    _rating_table(
        board.table,
        None if board.finite else f"{leaderboard.NOT_FINITE_RANKINGS}. More varied rankings will settle them.",
        key,
        {
            "rankings": st.column_config.NumberColumn("rankings", help="Rankings this model is in"),
            "first": st.column_config.NumberColumn("first", help="Times ranked best"),
            "last": st.column_config.NumberColumn("last", help="Times ranked worst"),
            "provisional": st.column_config.CheckboxColumn(
                "provisional",
                help=f"Fewer than {leaderboard.MIN_BATTLES} rankings, or a model always ranked first or last",
            ),
        },
    )


def _rating_table(table: Any, provisional: str | None, key: str, columns: dict[str, Any]) -> None:
    """A board's ratings table, under a warning when its ratings are only bounds (`provisional` says why)."""
    if provisional is not None:
        st.warning(f"Provisional: {provisional}", icon=":material/hourglass_top:")
    st.dataframe(table, hide_index=True, key=f"{key}_table", column_config={**_RATING_COLUMNS, **columns})
