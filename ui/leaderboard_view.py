"""Render one leaderboard: the ratings table, provisional notes, win-rate and battle-count heat maps."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from bakeoff import leaderboard
from ui import charts


@st.cache_data(show_spinner="Fitting ratings…", max_entries=32)
def _board(votes: tuple[tuple[str, str, str], ...]) -> leaderboard.Board | None:
    return leaderboard.build(votes)


def render_board(votes: Sequence[Sequence[str]], key: str) -> None:
    board = _board(tuple(tuple(v) for v in votes))
    if board is None:
        return
    models = len(board.table)
    st.caption(f"{board.n_votes} outcome{'s' if board.n_votes != 1 else ''} between {models} models.")
    if not board.finite:
        st.warning(
            f"Provisional: {leaderboard.NOT_FINITE}. More varied outcomes will settle them.",
            icon=":material/hourglass_top:",
        )
    st.dataframe(
        board.table,
        hide_index=True,
        key=f"{key}_table",
        column_config={
            "rank": st.column_config.NumberColumn("rank", help="1 + number of models clearly better (CI above)"),
            "rating": st.column_config.NumberColumn("rating", format="%.0f", help="Elo scale; mean 1000"),
            "lower": st.column_config.NumberColumn("95% CI low", format="%.0f"),
            "upper": st.column_config.NumberColumn("95% CI high", format="%.0f"),
            "provisional": st.column_config.CheckboxColumn(
                "provisional", help=f"Fewer than {leaderboard.MIN_BATTLES} battles, or ratings not finite"
            ),
        },
    )
    if models < 2:
        return
    left, right = st.columns(2)
    left.plotly_chart(charts.win_rate_heatmap(board.win_rates), key=f"{key}_winrate")
    right.plotly_chart(charts.battle_count_heatmap(board.battles), key=f"{key}_battles")
