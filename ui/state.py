"""Process-wide resources shared by every browser session (Streamlit caches them once)."""

from __future__ import annotations

import streamlit as st

from bakeoff.catalog import readiness
from bakeoff.catalog.config import Catalog, load_catalog
from bakeoff.catalog.readiness import Availability
from bakeoff.jobs.registry import Jobs
from bakeoff.runner import scoring
from bakeoff.runner.loop import EngineLoop, engine
from bakeoff.store.store import Store
from bakeoff.store.unusable import StoreUnusable

# A page's inputs keep their values when the user visits another page and comes back. Streamlit drops the value of
# a widget that is not rendered on a run (any page switch) unless the widget says how long to keep it:
# persist_state="session" (Streamlit >= 1.67, "Working with widgets in multipage apps"). Pass this to every input.
KEEP_ACROSS_PAGES = "session"


@st.cache_resource(show_spinner=False)
def catalog() -> Catalog:
    return load_catalog()


def store() -> Store:
    """The shared store; a database the app cannot use stops the page with the reason, not a traceback."""
    try:
        return _open_store()
    except StoreUnusable as exc:  # not cached: the next page load tries again
        st.error(str(exc), icon=":material/database:")
        st.stop()


@st.cache_resource(show_spinner=False)
def _open_store() -> Store:
    return Store()


@st.cache_resource(show_spinner=False)
def engine_loop() -> EngineLoop:
    """The process's one event loop: every job of every session runs on it, sharing limits and SDK clients."""
    return engine()


@st.cache_resource(show_spinner=False)
def jobs() -> Jobs:
    """Runs, repeat series, judgings, batches and lab runs in flight or recently done, for every session."""
    return Jobs(engine_loop())


def warm_embedder() -> None:
    """Start loading the embedder used for similarity and agreement, once per process, off the page."""
    scoring.EMBEDDER.warm()


@st.cache_data(ttl=15, show_spinner=False)
def availability(model_id: str) -> Availability:
    """Cheap, cached: key present / server up / weights on disk. Never loads a model."""
    return readiness.availability(catalog(), model_id)


def readiness_map(cat: Catalog) -> dict[str, tuple[bool, str]]:
    """Active model id -> (runs here now?, what to set up otherwise), from the cached checks above."""
    return readiness.readiness_map(cat, check=availability)


@st.cache_data(ttl=300, show_spinner=False)
def precision_support(model_id: str) -> dict[str, str | None]:
    """Which precisions can run here for a local model: None = yes, else why not."""
    return readiness.precision_support(catalog(), model_id)
