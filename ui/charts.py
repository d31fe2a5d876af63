"""Plotly figure builders: DataFrame in, figure out (testable without Streamlit)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go


def latency_breakdown(frame: pd.DataFrame) -> go.Figure:
    """Stacked horizontal bars per model: time to first token, then generation time."""
    data = frame.dropna(subset=["ttft_s"])
    fig = go.Figure()
    fig.add_bar(
        y=data["model"],
        x=data["ttft_s"],
        name="time to first token",
        orientation="h",
        hovertemplate="%{y}<br>TTFT %{x:.3f} s<extra></extra>",
    )
    fig.add_bar(
        y=data["model"],
        x=data["generation_s"].fillna(0),
        name="generation",
        orientation="h",
        hovertemplate="%{y}<br>generation %{x:.3f} s<extra></extra>",
    )
    fig.update_layout(
        barmode="stack",
        title="Latency breakdown (seconds, lower is better)",
        xaxis_title="seconds",
        yaxis={"autorange": "reversed"},
        height=120 + 40 * len(data),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def throughput(frame: pd.DataFrame) -> go.Figure:
    """Output tokens per second per model."""
    data = frame.dropna(subset=["output_tokens_per_s"])
    fig = go.Figure(
        go.Bar(x=data["model"], y=data["output_tokens_per_s"], hovertemplate="%{x}<br>%{y:.1f} tok/s<extra></extra>")
    )
    fig.update_layout(
        title="Output tokens per second (higher is better)",
        yaxis_title="tokens / s",
        height=320,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig
