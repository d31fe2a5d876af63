"""A run's charts, drawn the same on the dashboard and in the offline report, and a batch's score intervals.

One implementation for both (bakeoff/ may not import ui/, so it lives here): each model keeps its own colour
(bakeoff.report.colors), repeats of a model show as their median, and an unknown value is named in the title,
never drawn as zero. A frame has columns model, queue_s, ttft_s, generation_s, output_tokens_per_s, cost_usd and
`score_<name>` per score (ui.tables.comparison_frame's, or the report's own).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from bakeoff.report.axes import log_cost_axis
from bakeoff.report.colors import color_map
from bakeoff.report.scores import score_label, score_range
from metrics.cost import format_usd

MARGIN = {"l": 10, "r": 10, "t": 60, "b": 40}
STAGES = (
    ("queue_s", "queue", "#B0B0B0"),
    ("ttft_s", "time to first token", "#636EFA"),
    ("generation_s", "generation", "#00CC96"),
)


def _medians(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One row per model (first-seen order): the median of each column over its repeats, NaN when all unknown."""
    data = frame.reindex(columns=["model", *columns]).astype({c: float for c in columns})
    return data.groupby("model", sort=False)[columns].median().reset_index()


def _not_drawn(title: str, frame: pd.DataFrame, drawn: pd.Series, why: str) -> str:
    missing = [m for m in dict.fromkeys(frame["model"]) if m not in set(drawn)]
    return title + (f"<br><sup>{why}, not drawn: {', '.join(map(str, missing))}</sup>" if missing else "")


def latency_breakdown(frame: pd.DataFrame) -> go.Figure:
    """Stacked horizontal bars per model: queue (waiting before the request went out), time to first token, then
    generation. A model without a time to first token is named, not drawn; a missing stage is no bar."""
    data = _medians(frame, [col for col, _, _ in STAGES]).dropna(subset=["ttft_s"])
    fig = go.Figure()
    for col, name, color in STAGES:
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
        title=_not_drawn("Latency breakdown (seconds, lower is better)", frame, data["model"], "unknown"),
        yaxis={"autorange": "reversed", "automargin": True},  # no x-axis title: it sat under the legend
        height=140 + 40 * len(data),
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def _model_bars(
    frame: pd.DataFrame, column: str, text: Callable[[pd.Series], list[str]] | None, hover: str
) -> tuple[go.Figure, pd.Series]:
    """One bar per model with a known median, in the model's own colour; returns the models drawn."""
    data = _medians(frame, [column]).dropna(subset=[column])
    colors = color_map(frame["model"])
    fig = go.Figure(
        go.Bar(
            x=data["model"],
            y=data[column],
            marker_color=[colors[m] for m in data["model"]],
            text=text(data[column]) if text else None,
            textposition="outside" if text else None,
            hovertemplate=hover,
        )
    )
    return fig, data["model"]


def throughput(frame: pd.DataFrame) -> go.Figure:
    """Output tokens per second per model (medians over repeats)."""
    fig, drawn = _model_bars(frame, "output_tokens_per_s", None, "%{x}<br>%{y:.1f} tok/s<extra></extra>")
    title = _not_drawn("Output tokens per second (higher is better)", frame, drawn, "unknown")
    fig.update_layout(title=title, yaxis_title="tokens / s", height=340, margin=MARGIN)
    return fig


def cost_per_call(frame: pd.DataFrame) -> go.Figure:
    """Cost of one answer per model (USD, medians over repeats); unpriced models are named, not drawn as $0."""

    def dollars(values: pd.Series) -> list[str]:
        return [format_usd(Decimal(str(v))) for v in values]

    fig, drawn = _model_bars(frame, "cost_usd", dollars, "%{x}<br>%{text} per call<extra></extra>")
    fig.update_layout(
        title=_not_drawn("Cost per call (USD, lower is better)", frame, drawn, "unpriced"),
        yaxis_title="USD per call",
        yaxis_tickprefix="$",
        yaxis_tickformat=".2~g",
        height=340,
        margin=MARGIN,
    )
    return fig


def quality_heatmap(long: pd.DataFrame) -> go.Figure:
    """Models × task-relevant scores; colour = how good within the score's range (0 worst - 1 best), text = value.

    long: bakeoff.report.scores.quality_long's columns (model, label, text, goodness).
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
        title="Quality by metric (colour: place within the metric's range; text: value)",
        yaxis={"autorange": "reversed", "automargin": True},
        height=160 + 40 * len(models),
        margin=MARGIN,
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
    front = [
        bool(known[i]) and not (known & (c <= c[i]) & (q >= q[i]) & ((c < c[i]) | (q > q[i]))).any()
        for i in range(len(frame))
    ]
    return pd.Series(front, index=frame.index, name="pareto", dtype=bool)


def cost_quality_scatter(frame: pd.DataFrame, score: str) -> go.Figure:
    """Cost (x, log scale when all positive) against one score (y, its whole range), the Pareto front drawn and its
    points starred.

    frame: columns model, cost_usd, quality (the score's values; rows without both values are left out).
    """
    data = frame.dropna(subset=["cost_usd", "quality"]).copy()
    data["pareto"] = pareto_front(data)
    label = score_label(score)
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
        if not part.empty:
            fig.add_scatter(
                x=part["cost_usd"],
                y=part["quality"],
                mode="markers+text",
                text=part["model"],
                textposition="top center",
                marker={"size": 14 if on_front else 10, "symbol": symbol},
                name=name,
                hovertemplate="%{text}<br>cost $%{x:.6f}<br>" + label + " %{y:.3f}<extra></extra>",
            )
    fig.update_layout(
        title=f"Cost vs {label} (up and left is better)",
        xaxis=_cost_axis(data["cost_usd"]),
        yaxis=_score_axis(score, label),
        height=420,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def _cost_axis(costs: pd.Series) -> dict:
    log = bool(len(costs)) and bool((costs > 0).all())
    axis: dict = {"title": "cost per answer (USD" + (", log scale)" if log else ")"), "tickprefix": "$"}
    return axis | log_cost_axis(costs.tolist()) if log else axis


def _score_axis(score: str, label: str) -> dict:
    """The score's whole scale, with room for the model names above the points; plotly's own when unbounded."""
    axis: dict = {"title": label}
    bounds = score_range(score)
    if bounds and all(map(math.isfinite, bounds)):
        lo, hi = bounds
        axis["range"] = [lo - 0.05 * (hi - lo), hi + 0.15 * (hi - lo)]
    return axis


def score_intervals(agg: pd.DataFrame, names: list[str], top: float | None = None) -> go.Figure:
    """A batch's mean score per model with its 95% bootstrap interval, one group per score."""
    fig = go.Figure()
    colors = color_map(agg["model"])
    for _, row in agg.iterrows():
        means = [_num(row[n]) for n in names]
        fig.add_bar(
            x=[score_label(n) for n in names],
            y=means,
            name=row["model"],
            marker_color=colors[row["model"]],
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
