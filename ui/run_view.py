"""A finished run: cards, comparison table, quality and speed charts, and downloads."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd
import streamlit as st

from bakeoff.catalog.config import Catalog
from bakeoff.records import Judgment, Result, Run
from bakeoff.report import figures, run_html
from bakeoff.report.scores import quality_choices, quality_long, score_label
from bakeoff.runner.conversation import EarlierTurn
from bakeoff.runner.engine import unsaved_message
from bakeoff.store import export
from bakeoff.store.store import Store
from metrics.latency import HELP
from ui import state, votes
from ui.cards import render_cards
from ui.diff_view import render_diff
from ui.focus_view import render_focus
from ui.judge_panel import render_judge_controls, render_judgments
from ui.tables import NO_QUALITY_AXIS, comparison_frame, judge_scores, score_help

_COLUMNS = {
    "queue_s": st.column_config.NumberColumn("queue (s)", format="%.2f", help=HELP["queue_s"]),
    "ttft_s": st.column_config.NumberColumn("TTFT (s)", format="%.3f", help=HELP["ttft_s"]),
    "generation_s": st.column_config.NumberColumn("generation (s)", format="%.3f"),
    "e2e_s": st.column_config.NumberColumn("total (s)", format="%.3f", help=HELP["e2e_s"]),
    "tpot_ms": st.column_config.NumberColumn("TPOT (ms)", format="%.1f", help=HELP["tpot_s"]),
    "output_tokens_per_s": st.column_config.NumberColumn("tok/s", format="%.1f", help=HELP["output_tokens_per_s"]),
    "memory_mb": st.column_config.NumberColumn("memory (MB)", format="%.0f"),
    "cost_usd": None,
}


def _column_config(frame: pd.DataFrame) -> dict:
    config = dict(_COLUMNS)
    for col in frame.columns:
        if col.startswith("score_"):
            name = col.removeprefix("score_")
            fmt = "%.0f" if name in ("words", "characters") else "%.3g"
            config[col] = st.column_config.NumberColumn(score_label(name), format=fmt, help=score_help(name))
    return config


def render_unsaved(run: Run) -> None:
    """Say what of a run the store failed to keep, as soon as it happens: the answers exist only on this page."""
    if message := unsaved_message(run):
        st.error(message, icon=":material/save:")


def render_run(
    run: Run,
    results: Sequence[Result],
    key: str,
    *,
    judgments: Sequence[Judgment] = (),
    aliases: Mapping[str, str] | None = None,
    threads: Mapping[str, Sequence[EarlierTurn]] | None = None,
) -> None:
    """Cards, then the details. aliases (result_id -> "Model A"...): blind mode, where only answers show;
    threads: each model's earlier turns of the conversation."""
    render_cards(results, aliases=aliases, judge=judge_scores(judgments), threads=threads)
    if aliases:
        st.caption(
            "Blind mode: names, figures and scores stay hidden until you have voted on every pair "
            "(or press **Reveal names**)."
        )
        return
    render_details(run, results, key, judgments=judgments)


def render_compare(
    run: Run,
    results: Sequence[Result],
    cat: Catalog,
    store: Store,
    key: str,
    *,
    stored: bool,
    threads: Mapping[str, Sequence[EarlierTurn]] | None = None,
    followup: Callable[[], None] | None = None,
) -> None:
    """A finished run on the Compare page: cards, votes, the follow-up box, the judge, then the details.

    Blind (votes.is_blind): shuffled anonymous cards and the vote panel only, until every pair has a vote
    or the user reveals the names. stored: the run is in the store, so it can be judged. Votes and the
    judge apply to this run: the conversation's newest turn.
    """
    if votes.is_blind(run.run_id, results, store):
        shown = votes.blind_order(results, run.run_id)
        aliases = votes.blind_aliases(results, run.run_id)
        render_run(run, shown, key=key, aliases=aliases, threads=threads)
        votes.render_vote_panel(shown, store, run_id=run.run_id, aliases=aliases, key=key)
        st.button(
            "Reveal names", key=f"{key}_reveal", on_click=votes.reveal, args=(run.run_id,), icon=":material/visibility:"
        )
        if followup is not None:
            followup()
        return
    judgments = store.judgments_for(run.run_id)
    render_cards(results, judge=judge_scores(judgments), threads=threads)
    votes.render_vote_panel(results, store, run_id=run.run_id, aliases=None, key=key)
    if followup is not None:
        followup()
    if stored:
        render_judge_controls(run, results, cat, store, key=key)
        render_judgments(judgments, key=key)
    render_details(run, results, key, judgments=judgments)


def render_details(run: Run, results: Sequence[Result], key: str, *, judgments: Sequence[Judgment] = ()) -> None:
    """Focus and diff views, comparison table with scores, speed, cost and quality charts, downloads."""
    render_focus(results, key)
    render_diff(results, key)
    frame = comparison_frame(results, judge_scores(judgments))
    st.subheader("Comparison")
    st.dataframe(frame, hide_index=True, column_config=_column_config(frame), key=f"{key}_table")
    if frame["ttft_s"].notna().any():
        left, right = st.columns(2)
        left.plotly_chart(figures.latency_breakdown(frame), key=f"{key}_latency")
        right.plotly_chart(figures.throughput(frame), key=f"{key}_throughput")
    if frame["cost_usd"].notna().any():
        left, _ = st.columns(2)
        left.plotly_chart(figures.cost_per_call(frame), key=f"{key}_cost")
    elif len(frame):
        st.caption("No answer has a price, so there is no cost chart (unpriced is unknown, never $0).")
    _quality_charts(frame, key)
    a, b, c, _ = st.columns([1, 1, 1.6, 2.4])
    a.download_button(
        "Download CSV",
        export.to_csv([(run, list(results))]),
        file_name=f"bakeoff-{run.run_id}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        icon=":material/download:",
    )
    b.download_button(
        "Download JSONL",
        export.to_jsonl([(run, list(results))]),
        file_name=f"bakeoff-{run.run_id}.jsonl",
        mime="application/jsonl",
        key=f"{key}_jsonl",
    )
    store = state.store()

    def report() -> bytes:  # built on click: it inlines Plotly (about 5 MB)
        return run_html(run, results, judgments=judgments, votes=store.votes_for(run.run_id)).encode("utf-8", "replace")

    c.download_button(
        "Download report (HTML)",
        report,
        file_name=f"bakeoff-{run.run_id}.html",
        mime="text/html",
        key=f"{key}_report",
        icon=":material/description:",
        help="One self-contained file to share: answers side by side, figures and charts; opens offline.",
    )


def _quality_charts(frame: pd.DataFrame, key: str) -> None:
    long = quality_long(frame)
    if long.empty:
        if (frame["status"] == "ok").any():
            st.caption(NO_QUALITY_AXIS)
        return
    st.plotly_chart(figures.quality_heatmap(long), key=f"{key}_quality")
    left, right = st.columns([1, 2])
    with left:
        choices = quality_choices(frame)
        metric = st.selectbox(
            "Quality axis",
            choices,
            format_func=score_label,
            key=f"{key}_quality_metric",
            help="Which score the cost-vs-quality chart plots. Models on the Pareto front are those no "
            "cheaper model beats on this score.",
        )
    if metric is None:
        return
    points = frame[["model", "cost_usd"]].assign(quality=pd.to_numeric(frame[f"score_{metric}"], errors="coerce"))
    plotted = points.dropna(subset=["cost_usd", "quality"])
    if plotted.empty:
        left.caption("No model has both a cost and this score, so there is nothing to plot.")
        return
    front = plotted[figures.pareto_front(plotted)]["model"].tolist()
    left.caption(f"Pareto front (no other model is at least as cheap and as good): **{', '.join(front)}**")
    missing = sorted(set(points["model"]) - set(plotted["model"]))
    if missing:
        left.caption(f"Not plotted (unpriced or unscored): {', '.join(missing)}")
    right.plotly_chart(figures.cost_quality_scatter(points, metric), key=f"{key}_pareto")
