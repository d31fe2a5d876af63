"""The Batch page's suite views: promptfoo's pass/fail grid, and prompt variants compared on one model."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from bakeoff.batch.grid import grid_frame, grid_table
from bakeoff.batch.results import PASS, Arm, aggregate_frame, comparable_metrics, paired, suite_info
from bakeoff.records import Result
from bakeoff.report.colors import color_map
from bakeoff.report.scores import task_relevant

STATE_STYLE = {
    "pass": "background-color: rgba(0, 204, 150, 0.18)",
    "fail": "background-color: rgba(239, 85, 59, 0.20)",
    "mixed": "background-color: rgba(255, 161, 90, 0.22)",
    "none": "",
    "rate": "font-weight: bold",
}
QUALITY_DEFAULTS = ("assertions_passed", "semantic_similarity", "token_f1", "exact_match")


def is_suite(results: Sequence[Result]) -> bool:
    return any(suite_info(r) is not None for r in results)


def render_grid(results: list[Result], models: Sequence[str]) -> None:
    """Rows = tests (with their vars), columns = model × prompt; the last row is each column's pass rate."""
    long = grid_frame(results, models)
    if long.empty:
        return
    st.subheader("Pass/fail grid")
    text, states = grid_table(long)
    styled = text.style.apply(lambda _: states.map(STATE_STYLE.get), axis=None)
    st.dataframe(styled, hide_index=True, key="suite_grid")
    st.caption(
        "A cell passes when the model answered and every check passed (a failed call is a fail); over repeats it "
        "shows how many passed. The first failing check is in the cell; every failure is listed below. "
        "P1, P2… are the suite's prompts."
    )
    failed = long[long["failures"].map(bool)]
    with st.expander(f"Failures ({len(failed)} cells)", icon=":material/rule:", expanded=False):
        if failed.empty:
            st.caption("Every check passed.")
        else:
            st.dataframe(
                pd.DataFrame(
                    {
                        "test": failed["test"],
                        "model": failed["model"],
                        "prompt": [f"P{p}" for p in failed["prompt"]],
                        "why": ["\n".join(f) for f in failed["failures"]],
                        "answer": failed["output"],
                    }
                ),
                hide_index=True,
                key="suite_failures",
            )


def variants_figure(per: pd.DataFrame, quality: str | None) -> go.Figure:
    """Pass rate, a quality score, cost per item and mean E2E latency per prompt variant, a bar per model."""
    panels = [("pass_rate", "pass rate"), ("cost_per_item_usd", "cost / item (USD)"), ("e2e_s_mean", "E2E mean (s)")]
    if quality:
        panels.insert(1, (quality, quality.replace("_", " ")))
    fig = make_subplots(
        rows=1, cols=len(panels), subplot_titles=[title for _, title in panels], horizontal_spacing=0.07
    )
    colors = color_map(per["model"])
    for col, (field, _) in enumerate(panels, 1):
        for model, rows in per.groupby("model", sort=False):
            values = rows[field] if field in rows else pd.Series([None] * len(rows))
            fig.add_bar(
                x=[f"P{p}" for p in rows["prompt"]],
                y=[None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values],
                name=model,
                marker_color=colors[model],
                legendgroup=model,
                showlegend=col == 1,
                hovertemplate=f"{model} · %{{x}}<br>%{{y:.4g}}<extra></extra>",
                row=1,
                col=col,
            )
        if field.startswith("cost"):
            fig.update_yaxes(tickformat="$.2~r", row=1, col=col)  # not plotly's SI "80µ"
    fig.update_layout(barmode="group", height=320, margin={"l": 10, "r": 10, "t": 40, "b": 30})
    fig.update_yaxes(rangemode="tozero")
    return fig


def render_variants(results: list[Result], models: Sequence[str]) -> None:
    """Prompt variants as a first-class axis: per-variant chart, then variant A against B on one model."""
    per = aggregate_frame(results, models, by_prompt=True)
    prompts = sorted(per["prompt"].unique()) if not per.empty else []
    if len(prompts) < 2:
        return
    st.subheader("Prompt variants")
    templates = per.drop_duplicates("prompt").set_index("prompt")["template"]
    st.dataframe(
        pd.DataFrame({"prompt": [f"P{p}" for p in templates.index], "template": templates.values}),
        hide_index=True,
        key="suite_templates",
    )
    scores = [s for s in comparable_metrics(results) if s in per.columns and task_relevant(s)]
    quality = next((s for s in QUALITY_DEFAULTS if s in scores), None)
    if scores:
        quality = st.selectbox(
            "Quality score", scores, index=scores.index(quality) if quality else 0, key="suite_quality"
        )
    st.plotly_chart(variants_figure(per, quality), key="suite_variants_chart")
    _render_variant_pair(results, list(dict.fromkeys(per["model"])), prompts)


def _fmt(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3g}"


def _render_variant_pair(results: list[Result], models: list[str], prompts: list[int]) -> None:
    """Two prompt variants on one model, paired by test: mean difference with its CI, win/tie/loss rates."""
    st.markdown("**Prompt A vs prompt B on one model** (paired by test)")
    model_col, a_col, b_col, m_col = st.columns(4)
    model = model_col.selectbox("Model", models, key="suite_pair_model")
    a = a_col.selectbox("Prompt A", prompts, index=0, key="suite_pair_a", format_func=lambda p: f"P{p}")
    b = b_col.selectbox("Prompt B", prompts, index=1, key="suite_pair_b", format_func=lambda p: f"P{p}")
    metrics = sorted(comparable_metrics(results))
    default = PASS if PASS in metrics else "e2e_s"
    metric = m_col.selectbox("Metric", metrics, index=metrics.index(default), key="suite_pair_metric")
    if a == b:
        st.caption("Pick two different prompts.")
        return
    pc = paired(results, Arm(model, int(a)), Arm(model, int(b)), metric)
    if pc["items"] == 0:
        st.caption("No test has an answer to both prompts from this model for this metric.")
        return
    better = "higher" if pc["higher_is_better"] else "lower"
    st.markdown(
        f"On **{pc['items']}** tests, P{a} − P{b} on {model} = **{_fmt(pc['mean_diff'])}** "
        f"(95% CI {_fmt(pc['ci_low'])} to {_fmt(pc['ci_high'])}; {better} is better). "
        f"P{a} better on **{pc['a_wins']:.0%}**, tie {pc['ties']:.0%}, P{b} better on {pc['b_wins']:.0%}."
    )
