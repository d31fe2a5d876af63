"""The Leaderboard's heat maps: win rate and battles per pair (DataFrame in, figure out; testable without Streamlit).

A run's charts (latency, throughput, cost, quality, cost vs quality) live in bakeoff/report/figures.py, shared
with the offline report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def _matrix_heatmap(matrix: pd.DataFrame, title: str, fmt: str, colorscale: str, zmid: float | None) -> go.Figure:
    z = matrix.to_numpy(dtype=float)
    text = [["" if np.isnan(v) else format(v, fmt) for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in matrix.columns],
            y=[str(i) for i in matrix.index],
            text=text,
            texttemplate="%{text}",
            colorscale=colorscale,
            zmid=zmid,
            hovertemplate="%{y} vs %{x}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="opponent",
        yaxis={"autorange": "reversed", "title": "model"},
        height=160 + 40 * len(matrix),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def win_rate_heatmap(matrix: pd.DataFrame) -> go.Figure:
    """Row model's win rate against the column model (ties count half); blank where they never met."""
    return _matrix_heatmap(matrix, "Win rate of row model vs column model (ties = ½)", ".0%", "RdBu", 0.5)


def battle_count_heatmap(matrix: pd.DataFrame) -> go.Figure:
    """How many battles each pair fought."""
    return _matrix_heatmap(matrix.astype(float), "Battles per pair", ".0f", "Blues", None)
