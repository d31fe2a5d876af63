"""Plotly figure builders: DataFrame in, figure out (testable without Streamlit)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from bakeoff.report.axes import log_cost_axis
from metrics.cost import format_usd
from ui.colors import color_map


def latency_breakdown(frame: pd.DataFrame) -> go.Figure:
    """Stacked horizontal bars per model: queue (waiting before the request went out), time to first token,
    then generation. Several rows per model (repeats) are shown as their medians."""
    data = frame.dropna(subset=["ttft_s"])
    if data["model"].duplicated().any():
        data = data.groupby("model", sort=False)[["queue_s", "ttft_s", "generation_s"]].median().reset_index()
    fig = go.Figure()
    for col, name, color in (
        ("queue_s", "queue", "#B0B0B0"),
        ("ttft_s", "time to first token", "#636EFA"),
        ("generation_s", "generation", "#00CC96"),
    ):
        values = data[col].fillna(0) if col in data else pd.Series(0.0, index=data.index)
        fig.add_bar(
            y=data["model"],
            x=values,
            name=name,
            orientation="h",
            marker_color=color,
            hovertemplate="%{y}<br>" + name + " %{x:.3f} s<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        title="Latency breakdown (seconds, lower is better)",  # no axis title: it sat under the legend
        yaxis={"autorange": "reversed"},
        height=120 + 40 * len(data),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def throughput(frame: pd.DataFrame) -> go.Figure:
    """Output tokens per second per model, in each model's colour (medians over repeats)."""
    data = frame.dropna(subset=["output_tokens_per_s"])
    data = data.groupby("model", sort=False)["output_tokens_per_s"].median().reset_index()
    colors = color_map(data["model"])
    fig = go.Figure(
        go.Bar(
            x=data["model"],
            y=data["output_tokens_per_s"],
            marker_color=[colors[m] for m in data["model"]],
            hovertemplate="%{x}<br>%{y:.1f} tok/s<extra></extra>",
        )
    )
    fig.update_layout(
        title="Output tokens per second (higher is better)",
        yaxis_title="tokens / s",
        height=320,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def cost_per_call(frame: pd.DataFrame) -> go.Figure:
    """Cost of one answer per model (USD), in each model's colour; unpriced models are named, not drawn as $0."""
    known = frame.dropna(subset=["cost_usd"])
    data = known.groupby("model", sort=False)["cost_usd"].median().reset_index()
    colors = color_map(data["model"])
    fig = go.Figure(
        go.Bar(
            x=data["model"],
            y=data["cost_usd"],
            marker_color=[colors[m] for m in data["model"]],
            text=[format_usd(Decimal(str(v))) for v in data["cost_usd"]],
            textposition="outside",
            hovertemplate="%{x}<br>%{text} per call<extra></extra>",
        )
    )
    unpriced = [m for m in dict.fromkeys(frame["model"]) if m not in set(known["model"])]
    title = "Cost per call (USD, lower is better)"
    if unpriced:
        title += f"<br><sup>unpriced, not drawn: {', '.join(unpriced)}</sup>"
    fig.update_layout(
        title=title,
        yaxis_title="USD per call",
        yaxis_tickprefix="$",
        yaxis_tickformat=".2~g",
        height=340,
        margin={"l": 10, "r": 10, "t": 60, "b": 40},
    )
    return fig


def pareto_front(frame: pd.DataFrame, cost: str = "cost_usd", quality: str = "quality") -> pd.Series:
    """True for the rows no other row beats: none is at least as cheap and as good, and better in one.

    Rows missing either value are never on the front.

    >>> f = pd.DataFrame({"cost_usd": [1.0, 2.0, 3.0, 2.0, None], "quality": [0.5, 0.9, 0.8, 0.5, 1.0]})
    >>> pareto_front(f).tolist()
    [True, True, False, False, False]
    """
    c = pd.to_numeric(frame[cost], errors="coerce").to_numpy(dtype=float)
    q = pd.to_numeric(frame[quality], errors="coerce").to_numpy(dtype=float)
    known = ~(np.isnan(c) | np.isnan(q))
    front = []
    for i in range(len(frame)):
        if not known[i]:
            front.append(False)
            continue
        others = known & (c <= c[i]) & (q >= q[i]) & ((c < c[i]) | (q > q[i]))
        front.append(not others.any())
    return pd.Series(front, index=frame.index, name="pareto")


def cost_quality_scatter(frame: pd.DataFrame, quality_label: str) -> go.Figure:
    """Cost (x, log scale) against one quality score (y), with the Pareto front drawn and its points ringed.

    frame: columns model, cost_usd, quality (rows without both values are left out).
    """
    data = frame.dropna(subset=["cost_usd", "quality"]).copy()
    data["pareto"] = pareto_front(data)
    fig = go.Figure()
    front = data[data["pareto"]].sort_values("cost_usd")
    if len(front) > 1:
        fig.add_scatter(
            x=front["cost_usd"],
            y=front["quality"],
            mode="lines",
            line={"shape": "hv", "dash": "dot", "color": "#2ca02c"},
            name="Pareto front",
            hoverinfo="skip",
        )
    for on_front, name, symbol in (
        (True, "on the front (no cheaper model is better)", "star"),
        (False, "dominated", "circle"),
    ):
        part = data[data["pareto"] == on_front]
        if part.empty:
            continue
        fig.add_scatter(
            x=part["cost_usd"],
            y=part["quality"],
            mode="markers+text",
            text=part["model"],
            textposition="top center",
            marker={"size": 14 if on_front else 10, "symbol": symbol},
            name=name,
            hovertemplate="%{text}<br>cost $%{x:.6f}<br>" + quality_label + " %{y:.3f}<extra></extra>",
        )
    log = bool(len(data)) and bool((data["cost_usd"] > 0).all())
    xaxis: dict = {"title": "cost per answer (USD" + (", log scale)" if log else ")"), "tickprefix": "$"}
    if log:
        xaxis.update(log_cost_axis(data["cost_usd"].tolist()))
    fig.update_layout(
        title=f"Cost vs {quality_label} (up and left is better)",
        xaxis=xaxis,
        yaxis_title=quality_label,
        height=420,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def quality_heatmap(long: pd.DataFrame) -> go.Figure:
    """Models × metrics; colour = how good (0 worst - 1 best, per metric), text = the actual value.

    long: ui.tables.quality_long's columns (model, label, text, goodness).
    """
    models = list(dict.fromkeys(long["model"]))
    labels = list(dict.fromkeys(long["label"]))
    z = long.pivot_table(index="model", columns="label", values="goodness", aggfunc="first", dropna=False)
    text = long.pivot_table(index="model", columns="label", values="text", aggfunc="first", dropna=False)
    z = z.reindex(index=models, columns=labels)
    text = text.reindex(index=models, columns=labels).fillna("–")
    fig = go.Figure(
        go.Heatmap(
            z=z.to_numpy(dtype=float),
            x=labels,
            y=models,
            text=text.to_numpy(),
            texttemplate="%{text}",
            colorscale="RdYlGn",
            zmin=0,
            zmax=1,
            colorbar={"title": "better →", "tickvals": [0, 1], "ticktext": ["worst", "best"]},
            hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Quality by metric (colour: better/worse per metric; text: value)",
        yaxis={"autorange": "reversed"},
        height=140 + 40 * len(models),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


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
