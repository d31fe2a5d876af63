"""Sidebar controls for the Compare page: which models, at which precision, with which settings."""

from __future__ import annotations

import streamlit as st

from bakeoff.catalog.choices import default_models, default_precision, picker_order
from bakeoff.catalog.config import Catalog
from bakeoff.catalog.readiness import Availability
from bakeoff.records import Params
from ui import state

BADGE = {
    "ready": "✅ ready",
    "not_configured": "🔑 not configured",
    "unreachable": "⚠️ unreachable",
    "not_downloaded": "⬇️ not downloaded",
    "unsupported": "⛔ unsupported",
}


def availabilities(cat: Catalog) -> dict[str, Availability]:
    """Each active model's cached readiness (key present, server up, weights on disk): what pickers order by."""
    return {k: state.availability(k) for k, e in cat.entries.items() if e.active}


def model_picker(cat: Catalog) -> list[str]:
    """Return model references ("id" or "id@precision"), one per card to run."""
    active = {k: e for k, e in cat.entries.items() if e.active}
    ready = availabilities(cat)
    defaults = default_models(cat, ready)

    def label(model_id: str) -> str:
        e = active[model_id]
        where = "local" if e.kind == "local" else e.provider
        return f"{e.label or model_id} · {where} · {BADGE.get(ready[model_id].state, '')}"

    if "compare_models" not in st.session_state:
        st.session_state["compare_models"] = defaults.model_ids
    chosen = st.multiselect(
        "Models",
        picker_order(cat, ready),
        key="compare_models", persist_state=state.KEEP_ACROSS_PAGES,
        format_func=label,
        help="Ready models first. Local models run on this machine; commercial ones need their API key.",
    )
    if defaults.note and set(chosen) == set(defaults.model_ids):
        st.caption(defaults.note)
    refs: list[str] = []
    for model_id in chosen:
        e = active[model_id]
        av = state.availability(model_id)
        if not av.ok:
            st.caption(f"**{e.label or model_id}**: {av.detail}")
        if not e.precisions:
            refs.append(model_id)
            continue
        support = state.precision_support(model_id)
        usable = [p for p in e.precisions if support.get(p) is None]
        blocked = {p: support[p] for p in e.precisions if support.get(p)}
        default = default_precision(e, support)
        picks = st.pills(
            f"{e.label or model_id}: precision",
            usable,
            selection_mode="multi",
            default=[default] if default else [],
            key=f"compare_prec_{model_id}", persist_state=state.KEEP_ACROSS_PAGES,
            help="fp32 = full precision; bf16 halves memory; 8-bit / 4-bit use bitsandbytes. "
            "Pick several to compare them side by side.",
        )
        for p, why in blocked.items():
            st.caption(f"{p} unavailable: {why}")
        refs += [f"{model_id}@{p}" for p in picks]
    return refs


def generation_settings() -> Params:
    st.subheader("Settings")
    temperature = st.slider(
        "Temperature",
        0.0,
        2.0,
        0.7,
        0.05,
        key="compare_temperature", persist_state=state.KEEP_ACROSS_PAGES,
        help="0 = greedy (deterministic); higher = more varied.",
    )
    max_tokens = st.number_input(
        "Max tokens",
        min_value=1,
        max_value=32768,
        value=128,
        step=16,
        key="compare_max_tokens", persist_state=state.KEEP_ACROSS_PAGES,
        help="Upper bound on each model's answer length.",
    )
    with st.expander("More settings"):
        top_p = st.slider("Top-p", 0.05, 1.0, 1.0, 0.05, key="compare_top_p", persist_state=state.KEEP_ACROSS_PAGES)
        seed_text = st.text_input("Seed (blank = random)", key="compare_seed", persist_state=state.KEEP_ACROSS_PAGES)
        timeout = st.number_input(
            "Timeout per model (s)",
            min_value=1.0,
            max_value=3600.0,
            value=120.0,
            key="compare_timeout", persist_state=state.KEEP_ACROSS_PAGES,
            help="Counted from the moment the request is sent.",
        )
    seed = int(seed_text) if seed_text.strip().lstrip("-").isdigit() else None
    if seed_text.strip() and seed is None:
        st.warning("Seed must be a whole number; ignoring it.")
    return Params(
        max_tokens=int(max_tokens),
        temperature=float(temperature),
        top_p=None if top_p >= 1.0 else float(top_p),
        seed=seed,
        timeout_s=float(timeout),
    )


def blind_toggle() -> bool:
    """Chatbot-Arena-style blind comparison for the next run."""
    return st.toggle(
        "Blind mode",
        key="compare_blind", persist_state=state.KEEP_ACROSS_PAGES,
        help="Hide model names (cards become Model A, Model B… in random order) until you have voted on every "
        "pair. Applies to the next run.",
    )
