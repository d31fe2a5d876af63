"""Process-wide resources shared by every browser session (Streamlit caches them once)."""

from __future__ import annotations

import threading

import streamlit as st

from bakeoff.catalog import readiness
from bakeoff.catalog.config import Catalog, load_catalog
from bakeoff.catalog.readiness import Availability
from bakeoff.jobs.live import LiveJudgings, LiveRuns
from bakeoff.runner import scoring
from bakeoff.store.store import Store
from bakeoff.store.unusable import StoreUnusable


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
def live_runs() -> LiveRuns:
    return LiveRuns()


@st.cache_resource(show_spinner=False)
def warm_embedder() -> threading.Thread:
    """Start loading the embedder used for similarity and agreement, once per process, off the page."""
    thread = threading.Thread(target=scoring.EMBEDDER.get, name="bakeoff-embedder-warmup", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def live_judgings() -> LiveJudgings:
    return LiveJudgings()


@st.cache_data(ttl=15, show_spinner=False)
def availability(model_id: str) -> Availability:
    """Cheap, cached: key present / server up / weights on disk. Never loads a model."""
    return readiness.availability(catalog(), model_id)


@st.cache_data(ttl=300, show_spinner=False)
def precision_support(model_id: str) -> dict[str, str | None]:
    """Which precisions can run here for a local model: None = yes, else why not."""
    return readiness.precision_support(catalog(), model_id)
