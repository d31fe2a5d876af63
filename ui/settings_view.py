"""Pieces of the Settings page: where variables come from, readiness per provider, the $/hour editor."""

from __future__ import annotations

import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st
from dotenv import dotenv_values

from bakeoff.catalog.config import Catalog
from bakeoff.catalog.env import ROOT
from bakeoff.records import Params
from ui import local_compute, state
from ui.streamlit_secrets import starting_environ

PROVIDER_COLUMNS = {
    "name": st.column_config.TextColumn("in models.yaml", help="The `provider:` value models.yaml entries use."),
    "key": st.column_config.TextColumn("key", help="Whether one of the provider's key variables is set."),
    "key variables": st.column_config.TextColumn(
        "key variables", help="Read in this order; ✓ = set (and where from), ✗ = not set. Values are never shown."),
    "base URL in effect": st.column_config.TextColumn(
        "base URL in effect", help="Where requests go (user, password and query string removed)."),
}
READY_COLUMNS = {
    "ready": st.column_config.NumberColumn("ready", format="%d", help="Active models that can run now."),
    "models": st.column_config.NumberColumn("models", format="%d", help="Active models of this provider."),
}
PARAM_HELP = {
    "system": "System prompt sent before the user's prompt (none by default).",
    "max_tokens": "Upper bound on each answer's length, in tokens.",
    "temperature": "Sampling randomness: 0 = greedy (deterministic), higher = more varied.",
    "top_p": "Nucleus sampling: keep the smallest set of tokens whose probability adds up to p (none = off).",
    "seed": "Fixed seed for providers that honour one (none = random).",
    "timeout_s": "Seconds allowed per model, counted from the moment the request is sent.",
}
PARAM_COLUMNS = {"meaning": st.column_config.TextColumn("meaning", width="large")}


def variable_sources() -> dict[str, Any]:
    """Arguments for bakeoff.catalog.provider_settings: the environment and where its variables came from (names)."""
    try:
        secret_names = [name for name in st.secrets]
    except Exception:  # no secrets.toml, or one that does not parse (the app starts without it either way)
        secret_names = []
    dotenv_names: set[str] = set()
    for path in {Path.cwd() / ".env", ROOT / ".env"}:
        if path.is_file():
            dotenv_names |= set(dotenv_values(path))
    return {
        "environ": os.environ,
        "started_with": starting_environ(),
        "secret_names": secret_names,
        "dotenv_names": dotenv_names,
    }


def readiness(cat: Catalog) -> pd.DataFrame | None:
    """Per provider: active models ready to run now, and the first reason one is not."""
    rows: dict[str, dict[str, Any]] = {}
    for model_id, e in cat.entries.items():
        if not e.active:
            continue
        av = state.availability(model_id)
        row = rows.setdefault(e.provider, {"provider": e.provider, "models": 0, "ready": 0, "first problem": ""})
        row["models"] += 1
        row["ready"] += int(av.ok)
        if not av.ok and not row["first problem"]:
            row["first problem"] = f"{model_id}: {av.detail or av.state.replace('_', ' ')}"
    return pd.DataFrame(list(rows.values())) if rows else None


def params_frame(params: Params) -> pd.DataFrame:
    values = asdict(params)
    return pd.DataFrame(
        {
            "parameter": [f.name for f in fields(params)],
            "default": ["none" if values[f.name] is None else str(values[f.name]) for f in fields(params)],
            "meaning": [PARAM_HELP.get(f.name, "") for f in fields(params)],
        }
    )


def safe_db_url(display_url: str) -> str:
    """Store.display_url already hides the password; drop the query string too (it can carry one)."""
    try:
        url = sa.make_url(display_url)
    except Exception:  # not a URL SQLAlchemy can parse: show nothing of it rather than risk a secret
        return "(unparseable database URL)"
    return url.set(query={}).render_as_string(hide_password=True)


def local_compute_editor(cat: Catalog) -> None:
    """Show pricing.yaml's hardware rate and let this session try another one (used by Compare)."""
    base = cat.local_compute
    if base.usd_per_hour is not None:
        source = f" ([source]({base.source}))" if base.source else ""
        as_of = f", as of {base.as_of}" if base.as_of else ""
        st.markdown(f"pricing.yaml: **${base.usd_per_hour}/hour** — {base.label}{source}{as_of}")
    else:
        st.markdown("pricing.yaml sets no hardware rate (`local_compute.usd_per_hour`): local models show "
                    "**unpriced** unless you set one here.")
    current = local_compute.override()

    def _apply() -> None:
        local_compute.set_override(st.session_state["settings_usd_per_hour"])

    def _reset() -> None:
        local_compute.set_override(None)
        st.session_state["settings_usd_per_hour"] = float(base.usd_per_hour or 0)

    st.number_input(
        "Hardware $/hour for this session",
        min_value=0.0,
        max_value=1000.0,
        value=float(current if current is not None else base.usd_per_hour or 0),
        step=0.01,
        format="%.4f",
        key="settings_usd_per_hour",
        on_change=_apply,
        help="Local models cost this rate × the seconds they were busy generating (loading not counted). Applies "
        "to runs you start from now on in this browser session; stored runs keep the cost they were saved with.",
    )
    if current is not None:
        st.caption(f"This session uses **${current}/hour** (set here). To change it for everyone, edit "
                   "`local_compute.usd_per_hour` in pricing.yaml.")
        st.button("Use pricing.yaml's rate", key="settings_usd_reset", on_click=_reset)
    else:
        st.caption("To change it for everyone, edit `local_compute.usd_per_hour` (with source and as_of) in "
                   "pricing.yaml.")
