"""History: every stored run, newest first; open one to see it as it was."""

import streamlit as st

from bakeoff.scoring import check_label
from ui import state
from ui.judge_panel import render_judgments
from ui.run_view import render_run

store = state.store()
st.title("History")
total = store.count_runs()
st.caption(f"{total} runs stored in `{store.display_url}`")
if not total:
    st.info("No runs yet. Run a comparison on the Compare page; every run is saved here.")
    st.stop()

PAGE = 20
pages = max(1, -(-total // PAGE))
page = st.number_input("Page", 1, pages, 1, key="history_page") if pages > 1 else 1
rows = store.list_runs(limit=PAGE, offset=(page - 1) * PAGE)
labels = {
    r["run_id"]: f"{r['created_at']:%Y-%m-%d %H:%M} · {r['prompt'][:70]!r} · {', '.join(r['model_refs'])} · "
    f"{r['n_ok']}/{r['n_results']} ok"
    for r in rows
}
chosen = st.radio("Runs", list(labels), format_func=labels.get, key="history_run", label_visibility="collapsed")
if chosen:
    found = store.get_run(chosen)
    if found is not None:
        run, results = found
        st.subheader("Prompt")
        st.text(run.prompt)
        if run.params.system:
            st.caption(f"System: {run.params.system}")
        p = run.params
        st.caption(f"temperature {p.temperature} · max tokens {p.max_tokens} · top-p {p.top_p or 1.0} · "
                   f"seed {p.seed if p.seed is not None else 'random'} · status {run.status}")
        if run.reference is not None:
            st.caption(f"Reference answer: {run.reference}")
        if run.assertions:
            st.caption("Checks: " + "; ".join(check_label(a) for a in run.assertions))
        judgments = store.judgments_for(run.run_id)
        render_run(run, results, key="history", judgments=judgments)
        render_judgments(judgments, key="history")
