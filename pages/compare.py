"""Compare: one prompt, several models, answers side by side as they stream."""

import datetime as dt

import streamlit as st

from bakeoff.records import Run
from bakeoff.run import InvalidRun
from ui import state
from ui.cards import render_cards
from ui.run_view import render_run
from ui.sidebar import generation_settings, model_picker

cat = state.catalog()
runs = state.live_runs()
for problem in cat.problems:
    st.warning(f"Config problem, entry skipped — {problem}")

with st.sidebar:
    refs = model_picker(cat)
    params = generation_settings()
if stale := cat.stale_prices(refs, dt.date.today()):
    st.warning(stale, icon=":material/schedule:")

st.title("Compare")
prompt = st.text_area("Prompt", key="compare_prompt", height=120, placeholder="Ask something…")
with st.expander("System prompt and reference answer"):
    system = st.text_area("System prompt", key="compare_system", height=80)
    reference = st.text_area("Reference answer (optional, stored with the run)", key="compare_reference", height=80)

run_id = st.session_state.get("compare_run_id")
live = runs.get(run_id) if run_id else None
running = live is not None and not live.done

left, right, _ = st.columns([1, 1, 6])
if left.button("Run", type="primary", key="compare_run", disabled=running, icon=":material/play_arrow:"):
    params.system = system.strip() or None
    run = Run(prompt=prompt, model_refs=refs, params=params, reference=reference.strip() or None)
    try:
        live = runs.start(run, cat, state.store())
        st.session_state["compare_run_id"] = run_id = run.run_id
        running = True
    except InvalidRun as exc:
        st.error(str(exc))
if right.button("Stop", key="compare_stop", disabled=not running, icon=":material/stop:") and live is not None:
    live.cancel.set()
    st.toast("Stopping…")


@st.fragment(run_every=0.25)
def live_cards(run_id: str) -> None:
    current = runs.get(run_id)
    if current is None or current.done:
        st.rerun()
    render_cards(current.snapshot())


if run_id:
    live = runs.get(run_id)
    if live is not None and not live.done:
        live_cards(run_id)
    else:
        if live is not None and live.failure:
            st.error(f"The run could not complete: {live.failure}. Results that finished are saved.")
        found = state.store().get_run(run_id)
        if found is not None:
            render_run(*found, key="compare")
        elif live is not None:
            render_run(live.run, live.snapshot(), key="compare")
else:
    st.info("Type a prompt, pick models in the sidebar, and press **Run**. The bundled local models need no "
            "keys and no internet; add API keys (see README) to compare commercial models.")
