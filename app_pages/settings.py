"""Settings: which providers are configured (variable names, never values), base URLs, local compute $/hour,
default parameters, where the data lives."""

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from bakeoff.catalog.config import catalog_paths
from bakeoff.catalog.provider_settings import model_override_rows, provider_rows, var_status
from bakeoff.records import Params
from ui import settings_view, state
from ui.local_compute import effective_catalog

shared = state.catalog()
cat = effective_catalog(shared)
store = state.store()
st.title("Settings")
look = settings_view.variable_sources()

st.subheader("Providers")
st.caption("Keys are read from the environment, `.streamlit/secrets.toml` or a `.env` file next to the app (the real "
           "environment wins). Only variable names are shown here, never their values. Change them there and "
           "reload; no restart is needed.")
st.dataframe(pd.DataFrame(provider_rows(**look)), hide_index=True, key="settings_providers",
             column_config=settings_view.PROVIDER_COLUMNS, placeholder="—")
overrides = model_override_rows(cat, **look)
if overrides:
    st.caption("Models in models.yaml with their own server or key variable:")
    st.dataframe(pd.DataFrame(overrides), hide_index=True, key="settings_overrides")

st.subheader("Local compute cost")
settings_view.local_compute_editor(shared)

st.subheader("Default parameters")
st.caption("What the engine and the CLI use when a run does not say (`python -m bakeoff run`); the Compare sidebar "
           "sets its own per run.")
st.dataframe(settings_view.params_frame(Params()), hide_index=True, key="settings_params",
             column_config=settings_view.PARAM_COLUMNS)

st.subheader("Data")
db = settings_view.safe_db_url(store.display_url)
try:
    stored = f"{store.count_runs():,} runs stored"
except sa.exc.SQLAlchemyError as exc:  # the message can name the server; show the kind of failure only
    stored = f"could not be read ({type(exc).__name__}): check the server and the URL"
st.markdown(f"Database: `{db}` · {stored}")
for name in ("BAKEOFF_DB", "DATABASE_URL"):
    status = var_status(name, **look)
    st.caption(f"{name}: " + (f"set ({status.source})" if status.is_set else "not set"))
st.caption("Set `BAKEOFF_DB` to a file path (SQLite) or `DATABASE_URL` to a SQLAlchemy URL (e.g. PostgreSQL) before "
           "starting the app to store runs elsewhere. API keys are never written to the database.")
models_path, pricing_path = catalog_paths()
st.markdown(f"Catalog: `{models_path}` · prices: `{pricing_path}`")
st.caption("Set `BAKEOFF_MODELS` / `BAKEOFF_PRICING` to use other files.")
for problem in cat.problems:
    st.warning(f"Config problem, entry skipped — {problem}")

# Last: the first check of each provider imports its SDK (seconds), so everything above shows first.
st.subheader("Readiness")
ready = settings_view.readiness(cat)
if ready is None:
    st.info("No active models in the catalog. Add some to models.yaml.")
else:
    st.caption("Active models ready to run here, per provider (checked every 15 s; nothing is loaded or sent):")
    st.dataframe(ready, hide_index=True, key="settings_ready", column_config=settings_view.READY_COLUMNS,
                 placeholder="—")
