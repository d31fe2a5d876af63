"""Batch: a prompt set (or a test suite) × several models × repeats, at each provider's rate limit; aggregates with
CIs, and for a suite a pass/fail grid and prompt variants compared."""

import streamlit as st

from bakeoff.batch.runner import Batch, BatchRefused
from bakeoff.batch.store import batch_results, get_batch, list_batches
from bakeoff.jobs.batches import BatchJob, start_batch
from ui import state
from ui.batch_view import (
    model_picker,
    read_items,
    render_progress,
    render_results,
    settings,
    show_estimate,
)
from ui.estimate_view import md_dollars
from ui.local_compute import effective_catalog
from ui.planner_view import render_planner

cat = effective_catalog(state.catalog())
store = state.store()
jobs = state.jobs()
for problem in cat.problems:
    st.warning(f"Config problem, entry skipped — {problem}")

with st.sidebar:
    refs = model_picker(cat)
    params, repeats, concurrency, cap = settings()

st.title("Batch")
items, name = read_items()

batch_id = st.session_state.get("batch_id")
live = jobs.get(BatchJob, batch_id) if batch_id else None
running = live is not None and not live.done

refusal = None
if items and refs:
    draft = Batch(
        items=items, model_refs=refs, params=params, repeats=repeats, concurrency=concurrency, budget_usd=cap, name=name
    )
    _, refusal = show_estimate(draft, cat)

past = [b for b in list_batches(store, limit=30)]
resumable = [b for b in past if b["status"] != "running" and (b["status"] != "done" or b["n_ok"] < b["n_results"])]
start_col, stop_col, abort_col, resume_col, pick_col = st.columns([1, 1, 1, 1, 4])
if start_col.button(
    "Start",
    type="primary",
    key="batch_start",
    icon=":material/play_arrow:",
    disabled=running or not items or not refs or refusal is not None,
):
    try:
        live = start_batch(jobs, draft, cat, store)
        st.session_state["batch_id"] = batch_id = draft.batch_id
        st.rerun()  # render the page in its running state (Start disabled, Stop enabled)
    except BatchRefused as exc:
        st.error(md_dollars(str(exc)))
if stop_col.button("Stop", key="batch_stop", disabled=not running, icon=":material/stop:",
                   help="Start no new cell; the calls in flight finish and are saved with their cost."):
    live.stop.set()
    st.toast("Stopping: no new cells; the calls in flight finish and are saved…")
if abort_col.button("Abort", key="batch_abort", disabled=not running, icon=":material/cancel:",
                    help="Also stop the calls in flight: what they streamed is kept as cancelled and sent again "
                    "on resume."):
    live.cancel.set()
    st.toast("Aborting the calls in flight; what they streamed is kept as cancelled…")
to_resume = pick_col.selectbox(
    "Resume a batch",
    [b["batch_id"] for b in resumable],
    index=None,
    key="batch_resume_pick",
    placeholder="stopped or failed batches",
    label_visibility="collapsed",
    format_func=lambda b: next(
        f"{r['name'] or b} · {r['status']} · {r['n_ok']} ok · {r['created_at']:%Y-%m-%d %H:%M}"
        for r in resumable
        if r["batch_id"] == b
    ),
)
if resume_col.button("Resume", key="batch_resume", disabled=running or to_resume is None, icon=":material/replay:"):
    earlier = get_batch(store, to_resume)
    if earlier is not None:
        earlier.concurrency = concurrency
        try:
            live = start_batch(jobs, earlier, cat, store)
            st.session_state["batch_id"] = batch_id = earlier.batch_id
            st.rerun()  # render the page in its running state (Start disabled, Stop enabled)
        except BatchRefused as exc:
            st.error(md_dollars(str(exc)))


@st.fragment(run_every=0.5)
def progress_panel(batch_id: str) -> None:
    current = jobs.get(BatchJob, batch_id)
    if current is None or current.done:
        st.rerun()
    render_progress(current.snapshot())


if running:
    progress_panel(batch_id)
elif batch_id or past:
    choices = [b["batch_id"] for b in past]
    if batch_id and batch_id not in choices:
        choices.insert(0, batch_id)
    shown = st.selectbox(
        "Results of",
        choices,
        index=choices.index(batch_id) if batch_id in choices else 0,
        key="batch_show",
        format_func=lambda b: next(
            (
                f"{r['name'] or b} · {', '.join(r['model_refs'])} · {r['status']} · {r['n_ok']}/{r['n_results']} ok"
                for r in past
                if r["batch_id"] == b
            ),
            b,
        ),
    )
    batch = get_batch(store, shown)
    if live is not None and live.batch.batch_id == shown:
        if live.failure:
            st.error(f"The batch could not run: {live.failure}")
        elif live.outcome is not None:
            note = live.outcome.note or ""
            st.success(md_dollars(f"Batch {live.outcome.status}: {live.snapshot().line()}. {note}"))
    if batch is not None:
        if batch.note:
            st.caption(md_dollars(batch.note))
        cached = live.outcome.cached if live is not None and live.outcome is not None and shown == batch_id else set()
        results = batch_results(store, batch.batch_id)
        render_results(batch, results, cached)
        render_planner(batch, results)
else:
    st.info(
        "Upload or paste a prompt set (`prompt` column, optional `system`, `reference`, `id`) or a YAML test suite "
        "(`prompts` with `{{variables}}`, `tests` with `vars` and `assert` checks), pick models in the sidebar and "
        "press **Start**. Each cell is saved as it lands: stop any time and resume later."
    )
