"""LLM-as-judge on the Compare page: pick a judge, a mode and criteria; see each verdict with its cost and time.

Judging runs as a background job (bakeoff.jobs.judgings) and every judgment is stored as it
completes, so reruns and page switches lose nothing; this panel shows progress while it runs and the
stored judgments afterwards. Grader errors (a failed judge call or an unreadable reply) are shown as such.
The default judge is the strongest model that runs here (bakeoff/judge_choice.py); a tiny or base judge is
flagged before judging, and a judging whose verdicts mostly did not parse says so above its table.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from bakeoff.catalog.config import Catalog
from bakeoff.jobs.judgings import JudgingJob, start_judging
from bakeoff.judge_choice import judge_order, unparsed_warning, weak_judge_warning
from bakeoff.judging import (
    MODES,
    InvalidJudging,
    JudgeSettings,
    answers_to_judge,
    criteria_text,
    default_judge,
    parse_criteria,
    parse_rate,
)
from bakeoff.records import Judgment, Result, Run
from bakeoff.store.store import Store
from metrics.cost import format_usd
from metrics.judge import DEFAULT_CRITERIA
from ui import state
from ui.sidebar import BADGE

MODE_TEXT = {
    "rubric": "Rubric: score each answer 1-10",
    "pairwise": "Pairwise: compare each pair, both orders",
}


def _judge_options(cat: Catalog, ready: dict[str, tuple[bool, str]]) -> list[str]:
    """Strongest first, those that run here before those that need setting up."""
    return sorted(judge_order(cat), key=lambda k: not ready.get(k, (False, ""))[0])  # stable: strength kept


def _pick_judge(cat: Catalog, key: str, column: DeltaGenerator) -> str:
    """The judge picker with the strongest runnable model preselected; a tiny or base judge is warned about."""
    ready = state.readiness_map(cat)
    options = _judge_options(cat, ready)
    default = default_judge(cat, ready)
    judge_ref = column.selectbox(
        "Judge model",
        options,
        index=options.index(default) if default in options else 0,
        key=f"{key}_judge_model",
        format_func=lambda k: f"{cat.entries[k].label or k} · {BADGE.get(state.availability(k).state, '')}",
        help="Any catalog model can judge. The default is the strongest that runs here (by sourced size, else the "
        "vendor's tier: the Advisor's order); models listed after it need a key or a server first.",
    )
    weak = weak_judge_warning(cat, judge_ref, ready)
    if weak:
        st.warning(weak, icon=":material/warning:")
    return judge_ref


def render_judge_controls(run: Run, results: Sequence[Result], cat: Catalog, store: Store, key: str) -> None:
    answers = answers_to_judge(results)
    if not answers:
        return
    jobs = state.jobs()
    job = jobs.get(JudgingJob, run.run_id)
    busy = job is not None and not job.done
    st.subheader("LLM-as-judge")
    if not any(e.active for e in cat.entries.values()):
        st.info("No model in the catalog can act as judge.")
        return
    left, right = st.columns([3, 2])
    judge_ref = _pick_judge(cat, key, left)
    mode = right.radio(
        "Mode",
        MODES,
        key=f"{key}_judge_mode",
        format_func=MODE_TEXT.get,
        help="Pairwise runs each pair twice with the answers swapped; a win counts only if both orders agree.",
    )
    criteria = st.text_area(
        "Criteria (one `name: description` per line)",
        value=criteria_text(DEFAULT_CRITERIA),
        key=f"{key}_judge_criteria",
        height=100,
    )
    if mode == "pairwise" and len(answers) < 2:
        st.caption("Pairwise judging needs at least two finished answers.")
    go, stop, _ = st.columns([2, 1, 3])
    if go.button(
        "Judge these answers",
        key=f"{key}_judge_run",
        icon=":material/gavel:",
        disabled=busy or (mode == "pairwise" and len(answers) < 2),
    ):
        try:
            settings = JudgeSettings(judge_ref=judge_ref, mode=mode, criteria=parse_criteria(criteria))
            start_judging(jobs, run, list(results), settings, cat, store)
            busy = True
        except InvalidJudging as exc:
            st.error(str(exc))
    if stop.button("Stop judging", key=f"{key}_judge_stop", disabled=not busy) and job is not None:
        job.cancel.set()
    if busy:
        _progress(run.run_id)
    elif job is not None and job.failure:
        st.error(f"Judging could not complete: {job.failure}. Judgments that finished are saved.")


@st.fragment(run_every=0.5)
def _progress(run_id: str) -> None:
    job = state.jobs().get(JudgingJob, run_id)
    if job is None or job.done:
        st.rerun()
        return
    p = job.progress
    st.progress(
        min(1.0, p.done / p.total) if p.total else 0.0,
        text=f"Judging with {job.settings.judge_ref}: {p.done} of {p.total} judge calls done…",
    )


def _money(value: Decimal | None, basis: str | None) -> str:
    return format_usd(value) + (f" ({basis})" if basis == "local compute" else "")


def _verdict(j: Judgment) -> str:
    if j.grader_error:
        return "grader error"
    if j.mode == "rubric":
        return f"{j.score}/10"
    winner = {"a": j.model_a, "b": j.model_b}.get(j.verdict or "", "tie")
    return winner + ("" if j.consistent else " (orders disagreed)")


def judgments_frame(judgments: Sequence[Judgment]) -> pd.DataFrame:
    rows = []
    for j in judgments:
        rows.append(
            {
                "answer": j.model_a if j.mode == "rubric" else f"{j.model_a} vs {j.model_b}",
                "verdict": _verdict(j),
                "rationale": j.rationale,
                "grader error": j.error_message or "",
                "judge cost": _money(j.cost_usd, j.cost_basis),
                "judge time (s)": j.latency_s,
                "calls": len(j.calls),
            }
        )
    return pd.DataFrame(rows)


def render_judgments(judgments: Sequence[Judgment], key: str) -> None:
    """Stored judgments of one run, newest judging first; older ones folded away."""
    if not judgments:
        return
    batches: dict[str, list[Judgment]] = {}
    for j in judgments:
        batches.setdefault(j.batch_id, []).append(j)
    ordered = list(batches.values())[::-1]
    st.subheader("Judge verdicts")
    _batch(ordered[0], key, 0)
    if len(ordered) > 1:
        with st.expander(f"Earlier judgings ({len(ordered) - 1})"):
            for n, batch in enumerate(ordered[1:], 1):
                _batch(batch, key, n)


def _batch(batch: Sequence[Judgment], key: str, n: int) -> None:
    first = batch[0]
    ok, total = parse_rate(batch)
    costs = [j.cost_usd for j in batch]
    cost = sum(costs, Decimal(0)) if all(c is not None for c in costs) else None
    seconds = sum(j.latency_s or 0.0 for j in batch)
    unreadable = unparsed_warning(first.judge_model, ok, total)
    if unreadable:
        st.error(unreadable, icon=":material/report:")
    st.caption(
        f"Judge **{first.judge_model}** · {first.mode} · {first.created_at:%Y-%m-%d %H:%M} UTC · "
        f"criteria: {', '.join(first.criteria)} · **{ok}/{total}** parsed · judge cost "
        f"**{_money(cost, first.cost_basis)}** · judge time **{seconds:.1f} s**"
    )
    st.dataframe(
        judgments_frame(batch),
        hide_index=True,
        key=f"{key}_judgments_{n}",
        column_config={
            "judge time (s)": st.column_config.NumberColumn(format="%.2f", help="Sum of this verdict's judge calls."),
            "rationale": st.column_config.TextColumn(width="large"),
        },
    )
    errors = [j for j in batch if j.grader_error]
    if errors:
        st.warning(
            f"{len(errors)} grader error{'s' if len(errors) > 1 else ''}: no verdict could be read, so "
            "these count as neither pass nor fail:  \n"
            + "  \n".join(
                f"- {j.model_a if j.mode == 'rubric' else f'{j.model_a} vs {j.model_b}'}: {j.error_message}"
                for j in errors
            ),
            icon=":material/report:",
        )
    with st.expander("The judge's raw replies"):
        for j in batch:
            st.caption(j.model_a if j.mode == "rubric" else f"{j.model_a} vs {j.model_b}")
            st.code(j.raw_output or "(empty reply)", language=None, wrap_lines=True)
