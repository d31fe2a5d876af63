"""Compare: one prompt, several models, answers side by side as they stream; then score, vote, judge and follow up."""

import datetime as dt
from functools import partial

import streamlit as st

from bakeoff.jobs.repeats import RepeatSeries, start_repeats
from bakeoff.jobs.runs import RunJob, start_run
from bakeoff.records import Run
from bakeoff.runner.fan_out import InvalidRun
from bakeoff.runner.scoring import CHECK_SYNTAX, InvalidCheck, parse_checks
from ui import conversation_view, state, votes
from ui.cards import render_cards
from ui.estimate_view import budget_setting, estimate, md_dollars, render_estimate
from ui.local_compute import effective_catalog
from ui.prefill import apply_prefill
from ui.repeats_view import render_repeats, repeats_setting
from ui.run_view import render_compare, render_unsaved
from ui.sidebar import blind_toggle, generation_settings, model_picker

cat = effective_catalog(state.catalog())  # with this session's hardware $/hour, if set on Settings
jobs = state.jobs()
store = state.store()
for problem in cat.problems:
    st.warning(f"Config problem, entry skipped — {problem}")
if skipped := apply_prefill(st.session_state, cat):  # settings handed over by History or the Advisor
    st.warning(f"Not in the catalog any more, so not selected: {', '.join(skipped)}")

with st.sidebar:
    refs = model_picker(cat)
    params = generation_settings()
    repeats = repeats_setting()
    cap = budget_setting()
    blind = blind_toggle()
if stale := cat.stale_prices(refs, dt.date.today()):
    st.warning(stale, icon=":material/schedule:")

st.title("Compare")
prompt = st.text_area("Prompt", key="compare_prompt", height=120, placeholder="Ask something…",
                      persist_state=state.KEEP_ACROSS_PAGES)
with st.expander("System prompt, reference answer and checks"):
    system = st.text_area("System prompt", key="compare_system", persist_state=state.KEEP_ACROSS_PAGES, height=80)
    reference = st.text_area(
        "Reference answer (optional: enables exact match, F1, ROUGE, BLEU, chrF and similarity scores)",
        key="compare_reference", persist_state=state.KEEP_ACROSS_PAGES,
        height=80,
    )
    checks = st.text_area("Checks (optional)", key="compare_checks", height=80, help=CHECK_SYNTAX,
                          placeholder="contains/i: paris\nnot-contains: As an AI\nregex: \\d{4}",
                          persist_state=state.KEEP_ACROSS_PAGES)

series_id = st.session_state.get("compare_series_id")
series = jobs.get(RepeatSeries, series_id) if series_id else None
if series is not None and series.started():
    st.session_state["compare_run_id"] = series.started()[-1]  # the series' latest repeat
run_id = st.session_state.get("compare_run_id")
live = jobs.get(RunJob, run_id) if run_id else None
running = (live is not None and not live.done) or (series is not None and not series.done)
refusal = render_estimate(estimate(cat, refs, system, prompt, params.max_tokens, repeats), cap)

left, right, _ = st.columns([1, 1, 6])
if left.button("Run", type="primary", key="compare_run", disabled=running, icon=":material/play_arrow:"):
    params.system = system.strip() or None
    try:
        assertions = parse_checks(checks)

        def make_run() -> Run:
            return Run(prompt=prompt, model_refs=refs, params=params, reference=reference.strip() or None,
                       assertions=assertions)

        if refusal:  # over the budget cap: refused before any request is sent
            raise InvalidRun(md_dollars(refusal))
        if repeats > 1:
            series = start_repeats(jobs, make_run, repeats, cat, store)
            st.session_state["compare_series_id"] = series.key
            run_id = series.started()[0]
            live = jobs.get(RunJob, run_id)
        else:
            st.session_state.pop("compare_series_id", None)
            series = None
            live = start_run(jobs, make_run(), cat, store)
            run_id = live.run.run_id
        st.session_state["compare_run_id"] = run_id
        if blind:
            votes.started_blind(run_id)
        running = True
    except (InvalidRun, InvalidCheck) as exc:
        st.error(str(exc))
if right.button("Stop", key="compare_stop", disabled=not running, icon=":material/stop:"):
    if series is not None:
        series.cancel.set()
    if live is not None:
        live.cancel.set()
    st.toast("Stopping…")


def _cards(run: Run, results: list) -> None:
    conversation_view.render_turn_header(run)
    threads = conversation_view.threads_for(store, run)
    if run.run_id in st.session_state.get(votes.BLIND_RUNS, set()):
        shown, aliases = votes.blind_order(results, run.run_id), votes.blind_aliases(results, run.run_id)
        render_cards(shown, aliases=aliases, threads=threads)
    else:
        render_cards(results, threads=threads)


def _started(run: Run) -> None:
    """A follow-up turn started (in the button's callback): show it, blind if the sidebar says so."""
    st.session_state["compare_run_id"] = run.run_id
    st.session_state.pop("compare_series_id", None)
    if blind:
        votes.started_blind(run.run_id)


def _repeat_caption() -> None:
    if series is not None and series.total > 1:
        st.caption(f"Repeat {len(series.started())} of {series.total}")


@st.fragment(run_every=0.5)
def live_cards(run_id: str) -> None:
    current = jobs.get(RunJob, run_id)
    if current is None or current.done or all(r.done for r in current.snapshot()):
        st.rerun()
    _repeat_caption()
    render_unsaved(current.run)
    _cards(current.run, current.snapshot())


@st.fragment(run_every=0.5)
def between_repeats() -> None:
    """The moment between one repeat finishing and the next starting."""
    if series is None or series.done or series.started()[-1] != run_id:
        st.rerun()
    _repeat_caption()
    st.caption("Starting the next repeat…")


# Scoring is CPU work on a worker thread: poll gently, since every rerun competes with it for the GIL
# (a 4 Hz poll made the first embedder load take minutes instead of seconds).
@st.fragment(run_every=1.0)
def scoring_cards(run_id: str) -> None:
    current = jobs.get(RunJob, run_id)
    if current is None or current.done:
        st.rerun()
    _repeat_caption()
    render_unsaved(current.run)
    _cards(current.run, current.snapshot())
    st.caption("Scoring the answers (quality metrics)…")


if run_id:
    live = jobs.get(RunJob, run_id)
    if live is not None and not live.done:
        if all(r.done for r in live.snapshot()):
            scoring_cards(run_id)
        else:
            live_cards(run_id)
    elif series is not None and not series.done:
        between_repeats()
    else:
        if live is not None and live.failure:
            st.error(f"The run could not complete: {live.failure}. Results that finished are saved.")
        if series is not None and series.failure:
            st.error(f"The repeats stopped early: {series.failure}. Repeats that finished are saved.")
        if live is not None:
            render_unsaved(live.run)
        found = store.get_run(run_id) if live is None or not live.run.unsaved else None  # else: the copy in memory
        run, results = found if found is not None else (live.run, live.snapshot()) if live is not None else (None, [])
        if run is not None:
            if series is not None and series.total > 1:
                st.caption(f"Showing repeat {len(series.started())} of {series.total} (the latest); all repeats are "
                           "summarised below and saved in History.")
            conversation_view.render_turn_header(run)
            one = series is None or series.total == 1  # a follow-up continues one conversation, not repeats
            followup = partial(conversation_view.render_followup, run, results, cat, store, jobs, cap=cap,
                               on_start=_started) if one else None
            render_compare(run, results, cat, store, key="compare", stored=found is not None,
                           threads=conversation_view.threads_for(store, run), followup=followup)
        if series is not None and len(series.started()) > 1:
            render_repeats(store.results_for(series.started()), len(series.started()), key="compare")
else:
    st.info("Type a prompt, pick models in the sidebar, and press **Run**. The bundled local models need no "
            "keys and no internet; add API keys (see README) to compare commercial models.")

# Load the sentence embedder in the background now, not during the first scoring. Started last, once this
# run's own imports are done: torch imported on one thread while another imports numpy's lazy submodules
# failed half-way (torch._native op registration), and a failed load is remembered for the session.
state.warm_embedder()
