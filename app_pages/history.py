"""History: every stored run, newest first, filtered and paged in SQL; open, re-run, delete, export, trends."""

import streamlit as st

from bakeoff.store import history_query as hq
from ui import history_view as view
from ui import state

store = state.store()
store.mark_interrupted()  # runs whose process died since (a killed CLI, a crashed app) list as interrupted
cat = state.catalog()
st.title("History")
view.confirm_delete(store)
if hq.date_span(store) is None:
    st.info("No runs yet. Run a comparison on the **Compare** page: every run is saved here, with its answers, "
            "timings and costs, so you can reopen, re-run, export and chart them later.", icon=":material/history:")
    st.stop()

filters = view.filters(store)
total = hq.count_runs(store, filters)
page_no, size = view.page_picker(total)
page = hq.list_page(store, filters, page=page_no, page_size=size)
st.caption(f"{page.total} {'run matches' if page.total == 1 else 'runs match'} · page {page.page} of {page.pages} · "
           f"newest first · stored in `{store.display_url}`")
if not page.rows:
    st.info("No run matches these filters. Clear a filter (models, dates, text, status) to see more.")
else:
    view.runs_table(page)
view.selection(page, store)
if page.rows:
    tab_run, tab_trends = st.tabs(["Open a run", "Trends per model"])
    with tab_run:
        view.open_run(page, store, cat, state.jobs())
    with tab_trends:
        view.trends(store, filters)
