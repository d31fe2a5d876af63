"""The report's Plotly figures: the charts the dashboard draws for a run, and a batch's score CIs.

bakeoff/ may not import ui/, so these are built here from the report's own frames (ui/charts.py draws the
dashboard's). Unknown values are left out of a chart and named, never drawn as zero.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from bakeoff.report.axes import log_cost_axis
from bakeoff.report.scores import format_score, score_range

PALETTE = qualitative.Plotly + qualitative.D3
MARGIN = {"l": 10, "r": 10, "t": 60, "b": 40}


def colors(models: list[str]) -> dict[str, str]:
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(dict.fromkeys(models))}


def latency_breakdown(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars per model: queue, time to first token, then generation (seconds)."""
    data = frame.dropna(subset=["ttft_s"])
    fig = go.Figure()
    for col, name, color in (
        ("queue_s", "queue", "#B0B0B0"),
        ("ttft_s", "time to first token", "#636EFA"),
        ("generation_s", "generation", "#00CC96"),
    ):
        fig.add_bar(
            y=data["model"],
            x=data[col].fillna(0),
            name=name,
            orientation="h",
            marker_color=color,
            hovertemplate="%{y}<br>" + name + " %{x:.3f} s<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        title="Latency breakdown (seconds, lower is better)",
        xaxis_title="seconds",
        yaxis={"autorange": "reversed", "automargin": True},
        height=160 + 40 * len(data),
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


def _bars(frame: pd.DataFrame, column: str, title: str, axis: str, text: list[str] | None = None) -> go.Figure:
    data = frame.dropna(subset=[column])
    palette = colors(list(frame["model"]))
    fig = go.Figure(
        go.Bar(
            x=data["model"],
            y=data[column],
            marker_color=[palette[m] for m in data["model"]],
            text=text,
            textposition="outside" if text else None,
            hovertemplate="%{x}<br>%{y}<extra></extra>",
        )
    )
    missing = [m for m in frame["model"] if m not in set(data["model"])]
    if missing:
        title += f"<br><sup>not drawn (unknown): {', '.join(missing)}</sup>"
    fig.update_layout(title=title, yaxis_title=axis, height=360, margin=MARGIN)
    return fig


def throughput(frame: pd.DataFrame) -> go.Figure:
    return _bars(frame, "output_tokens_per_s", "Output tokens per second (higher is better)", "tokens / s")


def cost_per_call(frame: pd.DataFrame) -> go.Figure:
    """Cost of each answer; unpriced models are named, not drawn as $0."""
    data = frame.dropna(subset=["cost_usd"])
    fig = _bars(frame, "cost_usd", "Cost per answer (USD, lower is better)", "USD", text=list(data["cost"]))
    fig.update_layout(yaxis_tickprefix="$", yaxis_tickformat=".2~g")
    return fig


def quality_heatmap(frame: pd.DataFrame, names: list[str], goodness: pd.DataFrame) -> go.Figure:
    """Models × task-relevant scores; colour = how good within the score's range, text = the value."""
    text = [[format_score(n, _num(v)) for n, v in zip(names, row, strict=True)] for row in frame[names].to_numpy()]
    fig = go.Figure(
        go.Heatmap(
            z=goodness[names].to_numpy(dtype=float),
            x=names,
            y=list(frame["model"]),
            text=text,
            texttemplate="%{text}",
            colorscale="RdYlGn",
            zmin=0,
            zmax=1,
            colorbar={"title": "better →", "tickvals": [0, 1], "ticktext": ["worst", "best"]},
            hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Quality (colour: place within the score's range; text: value)",
        yaxis={"autorange": "reversed", "automargin": True},
        height=180 + 40 * len(frame),
        margin=MARGIN,
    )
    return fig


def pareto_front(cost: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """True where no other point is at least as cheap and as good, and better in one.

    >>> pareto_front(np.array([1.0, 2.0, 3.0, 2.0]), np.array([0.5, 0.9, 0.8, 0.5])).tolist()
    [True, True, False, False]
    """
    return np.array(
        [
            not ((cost <= c) & (quality >= q) & ((cost < c) | (quality > q))).any()
            for c, q in zip(cost, quality, strict=True)
        ]
    )


def cost_quality(frame: pd.DataFrame, score: str) -> go.Figure:
    """Cost (log scale when all positive) against one score, the Pareto front drawn and starred."""
    data = frame.dropna(subset=["cost_usd", score])
    cost, quality = data["cost_usd"].to_numpy(dtype=float), data[score].to_numpy(dtype=float)
    front = pareto_front(cost, quality)
    fig = go.Figure()
    order = np.argsort(cost[front])
    if front.sum() > 1:
        fig.add_scatter(
            x=cost[front][order],
            y=quality[front][order],
            mode="lines",
            line={"shape": "hv", "dash": "dot", "color": "#2ca02c"},
            name="Pareto front",
            hoverinfo="skip",
        )
    for on_front, name, symbol in ((True, "on the front", "star"), (False, "dominated", "circle")):
        pick = front == on_front
        if pick.any():
            fig.add_scatter(
                x=cost[pick],
                y=quality[pick],
                mode="markers+text",
                text=list(data["model"][pick]),
                textposition="top center",
                marker={"size": 14 if on_front else 10, "symbol": symbol},
                name=name,
                hovertemplate="%{text}<br>$%{x:.6f}<br>" + score + " %{y:.3f}<extra></extra>",
            )
    log = bool(len(cost)) and bool((cost > 0).all())
    xaxis: dict = {"title": "cost per answer (USD" + (", log scale)" if log else ")"), "tickprefix": "$"}
    if log:
        xaxis.update(log_cost_axis(list(cost)))
    yaxis: dict = {"title": score}
    bounds = score_range(score)
    if bounds and all(map(math.isfinite, bounds)):  # the whole scale, with room for the labels above the points
        lo, hi = bounds
        yaxis["range"] = [lo - 0.05 * (hi - lo), hi + 0.15 * (hi - lo)]
    fig.update_layout(
        title=f"Cost vs {score} (up and left is better)",
        xaxis=xaxis,
        yaxis=yaxis,
        height=420,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def score_intervals(agg: pd.DataFrame, names: list[str], top: float | None = None) -> go.Figure:
    """A batch's mean score per model with its 95% bootstrap interval, one group per score."""
    fig = go.Figure()
    palette = colors(list(agg["model"]))
    for _, row in agg.iterrows():
        means = [_num(row[n]) for n in names]
        fig.add_bar(
            x=names,
            y=means,
            name=row["model"],
            marker_color=palette[row["model"]],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [_gap(row[f"{n}_high"], m) for n, m in zip(names, means, strict=True)],
                "arrayminus": [_gap(m, row[f"{n}_low"]) for n, m in zip(names, means, strict=True)],
            },
            hovertemplate="%{x}: %{y:.3f}<extra>" + str(row["model"]) + "</extra>",
        )
    fig.update_layout(
        barmode="group",
        title="Mean score per model, 95% bootstrap interval" + (f" (scale up to {top:g})" if top else ""),
        height=400,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _num(v: object) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)  # type: ignore[arg-type]


def _gap(high: object, low: object) -> float:
    a, b = _num(high), _num(low)
    return 0.0 if a is None or b is None else max(0.0, a - b)
