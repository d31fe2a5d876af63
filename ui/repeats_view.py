"""Across repeats: how much each model's figures vary when the same comparison runs several times."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from bakeoff.jobs.repeats import MAX_REPEATS
from bakeoff.records import Result
from bakeoff.report.colors import color_map
from metrics.latency import HELP
from ui import state
from ui.tables import comparison_frame

SUMMARY_COLUMNS = ["model", "answers", "ok", "ttft_median_s", "e2e_median_s", "e2e_min_s", "e2e_max_s",
                   "e2e_stdev_s", "tok_s_median", "cost_median_usd"]


def repeats_setting() -> int:
    """Sidebar: how many times to run the comparison."""
    return int(st.number_input(
        "Repeats",
        min_value=1,
        max_value=MAX_REPEATS,
        value=1,
        step=1,
        key="compare_repeats", persist_state=state.KEEP_ACROSS_PAGES,
        help="Run the same comparison this many times, one repeat after another, to see how much speed and "
        "answers vary. The cards show the latest repeat; a table and a chart summarise them all.",
    ))


def repeat_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per model over its repeats (a comparison_frame with several rows per model): medians, the spread
    of total time, and how many answered. Only successful answers count in the timings.

    >>> f = pd.DataFrame({"model": ["a", "a", "a"], "status": ["ok", "ok", "error"], "ttft_s": [0.1, 0.3, None],
    ...                   "e2e_s": [1.0, 3.0, None], "output_tokens_per_s": [10.0, 30.0, None],
    ...                   "cost_usd": [0.001, 0.003, None]})
    >>> [float(x) for x in repeat_summary(f).iloc[0][["answers", "ok", "e2e_median_s", "e2e_min_s", "e2e_max_s"]]]
    [3.0, 2.0, 2.0, 1.0, 3.0]
    """
    rows = []
    for model, part in frame.groupby("model", sort=False):
        ok = part[part["status"] == "ok"]
        e2e = pd.to_numeric(ok["e2e_s"], errors="coerce").dropna()
        rows.append(
            {
                "model": model,
                "answers": len(part),
                "ok": len(ok),
                "ttft_median_s": pd.to_numeric(ok["ttft_s"], errors="coerce").median(),
                "e2e_median_s": e2e.median(),
                "e2e_min_s": e2e.min(),
                "e2e_max_s": e2e.max(),
                "e2e_stdev_s": e2e.std() if len(e2e) > 1 else None,
                "tok_s_median": pd.to_numeric(ok["output_tokens_per_s"], errors="coerce").median(),
                "cost_median_usd": pd.to_numeric(ok["cost_usd"], errors="coerce").median(),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def repeat_spread(frame: pd.DataFrame) -> go.Figure:
    """Total time of every successful repeat per model, as box plots with the points, in each model's colour."""
    data = frame[(frame["status"] == "ok")].dropna(subset=["e2e_s"])
    colors = color_map(frame["model"])
    fig = go.Figure()
    for model in dict.fromkeys(frame["model"]):
        part = data[data["model"] == model]
        if part.empty:
            continue
        fig.add_box(y=part["e2e_s"], name=str(model), boxpoints="all", jitter=0.3, marker_color=colors[model],
                    hovertemplate=f"{model}<br>%{{y:.3f}} s<extra></extra>")
    fig.update_layout(
        title="Total time per repeat (seconds, lower is better; the box spans the middle half)",
        yaxis_title="seconds",
        showlegend=False,
        height=360,
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def render_repeats(results: Sequence[Result], repeats: int, key: str) -> None:
    """The section under a finished series: a per-model table over the repeats and the spread chart."""
    frame = comparison_frame(results)
    if frame.empty:
        return
    st.subheader(f"Across {repeats} repeats", help="The same prompt and settings, run one repeat after another. "
                 "Each repeat is a separate run in History.")
    st.dataframe(
        repeat_summary(frame),
        hide_index=True,
        key=f"{key}_repeats_table",
        column_config={
            "answers": st.column_config.NumberColumn("answers", help="Repeats that reached this model."),
            "ok": st.column_config.NumberColumn("ok", help="Repeats that answered without an error."),
            "ttft_median_s": st.column_config.NumberColumn("median TTFT (s)", format="%.3f", help=HELP["ttft_s"]),
            "e2e_median_s": st.column_config.NumberColumn("median total (s)", format="%.3f", help=HELP["e2e_s"]),
            "e2e_min_s": st.column_config.NumberColumn("fastest (s)", format="%.3f"),
            "e2e_max_s": st.column_config.NumberColumn("slowest (s)", format="%.3f"),
            "e2e_stdev_s": st.column_config.NumberColumn("std dev (s)", format="%.3f",
                                                         help="Sample standard deviation of the total time."),
            "tok_s_median": st.column_config.NumberColumn("median tok/s", format="%.1f",
                                                          help=HELP["output_tokens_per_s"]),
            "cost_median_usd": st.column_config.NumberColumn("median cost (USD)", format="$%.6f",
                                                             help="Blank when the model is unpriced."),
        },
    )
    st.plotly_chart(repeat_spread(frame), key=f"{key}_repeats_spread")
