"""Trend figures for the History page: one line per model over days, or hours within one day (DataFrame in,
figure out)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from bakeoff.report.axes import period_axis
from bakeoff.report.colors import color_map
from bakeoff.store.history_query import TREND_COLUMNS

# metric column -> (chart title, axis title, hover format); the frame is bakeoff.store.history_query.trend_rows's rows.
# "{per}" is "day" or "hour", the trend's period.
TRENDS = {
    "e2e_s": ("Total time per answer (mean of successful answers per {per}, lower is better)", "seconds", ".2f"),
    "ttft_s": ("Time to first token (mean per {per}, lower is better)", "seconds", ".3f"),
    "cost_usd": ("Cost per answer (mean of priced answers per {per}, lower is better)", "USD per answer", "$.6f"),
    "score": ("Quality score (mean per {per}, higher is better)", "score", ".3f"),
}


def trend_frame(rows: list[dict]) -> pd.DataFrame:
    """trend_rows output as a DataFrame with numeric columns (None stays NaN, never 0)."""
    frame = pd.DataFrame(rows, columns=TREND_COLUMNS)
    for col in ("ttft_s", "e2e_s", "cost_usd", "score"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    frame["period"] = pd.to_datetime(frame["period"])
    return frame


def trend_figure(frame: pd.DataFrame, metric: str, score_label: str = "score", hourly: bool = False) -> go.Figure:
    """Lines per model over days (hours: the runs are all in one UTC day); periods where a model has no value are
    gaps, not zeros.

    frame: trend_frame's columns. metric: a key of TRENDS.
    """
    title, axis, fmt = TRENDS[metric]
    title = title.format(per="hour" if hourly else "day")
    if metric == "score":
        title, axis = title.replace("Quality score", score_label[:1].upper() + score_label[1:]), score_label
    data = frame.dropna(subset=[metric]).sort_values("period")
    colors = color_map(frame["model"])
    when = "%{x|%Y-%m-%d %H:%M}" if hourly else "%{x|%Y-%m-%d}"
    fig = go.Figure()
    for model, part in data.groupby("model", sort=True):
        count = "priced" if metric == "cost_usd" else "scored" if metric == "score" else "answers"
        fig.add_scatter(
            x=part["period"],
            y=part[metric],
            customdata=part[[count]].to_numpy(),
            mode="lines+markers",
            name=str(model),
            line={"color": colors[model]},
            marker={"color": colors[model]},
            hovertemplate=f"{model}<br>{when}: %{{y:{fmt}}}<br>%{{customdata[0]}} {count}<extra></extra>",
        )
    cost = metric == "cost_usd"
    fig.update_layout(
        title=title,
        xaxis=period_axis(list(data["period"]), hourly),
        yaxis={"title": axis, "tickprefix": "$" if cost else "", "exponentformat": "none" if cost else "B"},
        height=360,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig
