"""Compare: one prompt, several models, answers side by side as they stream; then score, vote and judge."""

import datetime as dt

import streamlit as st

from bakeoff.records import Run
from bakeoff.run import InvalidRun
from bakeoff.scoring import CHECK_SYNTAX, InvalidCheck, parse_checks
from ui import state, votes
from ui.cards import render_cards
from ui.run_view import render_compare
from ui.sidebar import blind_toggle, generation_settings, model_picker

cat = state.catalog()
runs = state.live_runs()
store = state.store()
state.warm_embedder()  # load the sentence embedder in the background now, not during the first scoring
for problem in cat.problems:
    st.warning(f"Config problem, entry skipped — {problem}")

with st.sidebar:
    refs = model_picker(cat)
    params = generation_settings()
    blind = blind_toggle()
if stale := cat.stale_prices(refs, dt.date.today()):
    st.warning(stale, icon=":material/schedule:")

st.title("Compare")
prompt = st.text_area("Prompt", key="compare_prompt", height=120, placeholder="Ask something…")
with st.expander("System prompt, reference answer and checks"):
    system = st.text_area("System prompt", key="compare_system", height=80)
    reference = st.text_area(
        "Reference answer (optional: enables exact match, F1, ROUGE, BLEU, chrF and similarity scores)",
        key="compare_reference",
        height=80,
    )
    checks = st.text_area("Checks (optional)", key="compare_checks", height=80, help=CHECK_SYNTAX,
                          placeholder="contains/i: paris\nnot-contains: As an AI\nregex: \\d{4}")

run_id = st.session_state.get("compare_run_id")
live = runs.get(run_id) if run_id else None
running = live is not None and not live.done

left, right, _ = st.columns([1, 1, 6])
if left.button("Run", type="primary", key="compare_run", disabled=running, icon=":material/play_arrow:"):
    params.system = system.strip() or None
    try:
        run = Run(prompt=prompt, model_refs=refs, params=params, reference=reference.strip() or None,
                  assertions=parse_checks(checks))
        live = runs.start(run, cat, store)
        st.session_state["compare_run_id"] = run_id = run.run_id
        if blind:
            votes.started_blind(run.run_id)
        running = True
    except (InvalidRun, InvalidCheck) as exc:
        st.error(str(exc))
if right.button("Stop", key="compare_stop", disabled=not running, icon=":material/stop:") and live is not None:
    live.cancel.set()
    st.toast("Stopping…")


def _cards(run_id: str, results: list) -> None:
    if run_id in st.session_state.get(votes.BLIND_RUNS, set()):
        render_cards(votes.blind_order(results, run_id), aliases=votes.blind_aliases(results, run_id))
    else:
        render_cards(results)


@st.fragment(run_every=0.5)
def live_cards(run_id: str) -> None:
    current = runs.get(run_id)
    if current is None or current.done or all(r.done for r in current.snapshot()):
        st.rerun()
    _cards(run_id, current.snapshot())


# Scoring is CPU work on the run's thread: poll gently, since every rerun competes with it for the GIL
# (a 4 Hz poll made the first embedder load take minutes instead of seconds).
@st.fragment(run_every=1.0)
def scoring_cards(run_id: str) -> None:
    current = runs.get(run_id)
    if current is None or current.done:
        st.rerun()
    _cards(run_id, current.snapshot())
    st.caption("Scoring the answers (quality metrics)…")


if run_id:
    live = runs.get(run_id)
    if live is not None and not live.done:
        if all(r.done for r in live.snapshot()):
            scoring_cards(run_id)
        else:
            live_cards(run_id)
    else:
        if live is not None and live.failure:
            st.error(f"The run could not complete: {live.failure}. Results that finished are saved.")
        found = store.get_run(run_id)
        run, results = found if found is not None else (live.run, live.snapshot()) if live is not None else (None, [])
        if run is not None:
            render_compare(run, results, cat, store, key="compare", stored=found is not None)
else:
    st.info("Type a prompt, pick models in the sidebar, and press **Run**. The bundled local models need no "
            "keys and no internet; add API keys (see README) to compare commercial models.")
