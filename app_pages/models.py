"""Models: the catalog (models.yaml + pricing.yaml) as a filterable table, with what history measured."""

import datetime as dt

import streamlit as st

from bakeoff.catalog.config import catalog_paths
from bakeoff.catalog.view import KIND_HELP, KINDS, SIZE_CATEGORIES, SIZE_HELP, catalog_frame, filter_frame
from ui import state
from ui.models_table import measured_or_warn, render_models_table
from ui.settings_view import safe_db_url

cat = state.catalog()
store = state.store()
st.title("Models")
for problem in cat.problems:
    st.warning(f"Config problem, entry skipped — {problem}")

frame = catalog_frame(cat, measured_or_warn(store.display_url), dt.date.today())
models_path, pricing_path = catalog_paths()
if frame.empty:
    st.info(f"The catalog is empty. Add models to `{models_path}` (each with provider, model and kind; see the "
            f"comments at the top of the file) and their prices to `{pricing_path}`, then reload this page.")
    st.stop()

st.caption("Every model Bakeoff knows, from models.yaml (facts, each with its source and date) and pricing.yaml "
           "(prices in force today). Click a column header to sort. Measured columns come from your own runs.")

c1, c2, c3, c4 = st.columns([2, 2, 2, 3])
providers = c1.multiselect("Provider", sorted(frame["provider"].unique()), key="models_provider")
kinds = c2.multiselect("Kind", KINDS, key="models_kind", help=KIND_HELP)
sizes = c3.multiselect("Size", SIZE_CATEGORIES, key="models_size", help=SIZE_HELP)
text = c4.text_input("Search", key="models_search", placeholder="name, licence, tag…",
                     help="Matches id, name, provider, licence, notes and best-for tags.")
include_retired = st.toggle("Include retired models", key="models_retired",
                            help="Retired models are hidden from Compare but kept so old runs keep their facts.")

shown = filter_frame(frame, providers=providers, kinds=kinds, sizes=sizes, text=text,
                     include_retired=include_retired)
total = int(frame["active"].sum()) if not include_retired else len(frame)
if shown.empty:
    st.info("No model matches these filters. Remove a filter or clear the search"
            + ("" if include_retired else ", or include retired models") + ".")
else:
    st.caption(f"{len(shown)} of {total} models")
    render_models_table(shown)

measured_count = int((frame["answers"] > 0).sum())
if not measured_count:
    st.info("No measured figures yet: median TTFT, tokens/s and cost per 1K answers appear here once you run models "
            "on the Compare page (every run is stored and summarised per model).", icon=":material/speed:")
else:
    where = safe_db_url(store.display_url)
    st.caption(f"Measured figures for {measured_count} models, from the database at `{where}`. Unpriced models show "
               "— for their price: unknown, not free. Local models are priced by hardware $/hour (Settings).")
