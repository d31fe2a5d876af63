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


@st.cache_resource(show_spinner=False)
def catalog() -> Catalog:
    return load_catalog()


@st.cache_resource(show_spinner=False)
def store() -> Store:
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
