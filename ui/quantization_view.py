"""Quantization page: the memory calculator and the live lab.

Frame and figure builders (top half) take plain values and return DataFrames / Plotly figures, so they
are tested without Streamlit; the render functions (bottom half) only lay out widgets around them.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from bakeoff.catalog import readiness
from bakeoff.catalog.config import Catalog, CatalogEntry
from bakeoff.quant_lab import InvalidLab, LabJob, LabReport, LabSettings, lab_models, options, start_lab
from bakeoff.store.store import Store
from metrics.memory import DEVICES, GB, Architecture, Estimate, estimate, fits_on, format_bytes, ram_device
from ui import state

PRECISION_COLORS = {"FP32": "#636EFA", "FP16/BF16": "#00CC96", "INT8": "#FFA15A", "INT4": "#EF553B"}

# ---- builders (no Streamlit) ------------------------------------------------------------------


def estimate_frame(estimates: list[Estimate], moe: bool) -> pd.DataFrame:
    """One row per precision: weights, KV cache and total in GB (+ active weights for MoE)."""
    rows = []
    for e in estimates:
        row = {
            "precision": e.precision,
            "weights_gb": e.weights_bytes / GB,
            "kv_cache_gb": None if e.kv_bytes is None else e.kv_bytes / GB,
            "total_gb": e.total_bytes / GB,
        }
        if moe:
            row["active_weights_gb"] = e.active_weights_bytes / GB
        row["gflops_per_token"] = e.active_gflops_per_token
        rows.append(row)
    return pd.DataFrame(rows)


def memory_bars(frame: pd.DataFrame, title: str) -> go.Figure:
    """Stacked bars by precision: weights, then the KV cache when known."""
    fig = go.Figure()
    fig.add_bar(x=frame["precision"], y=frame["weights_gb"], name="weights",
                marker_color=[PRECISION_COLORS.get(p, "#888") for p in frame["precision"]],
                hovertemplate="%{x}<br>weights %{y:.3g} GB<extra></extra>")
    if frame["kv_cache_gb"].notna().any():
        fig.add_bar(x=frame["precision"], y=frame["kv_cache_gb"].fillna(0), name="KV cache", marker_color="#B0B0B0",
                    hovertemplate="%{x}<br>KV cache %{y:.3g} GB<extra></extra>")
    if "active_weights_gb" in frame:
        fig.add_scatter(x=frame["precision"], y=frame["active_weights_gb"], mode="markers",
                        name="active per token (MoE)",
                        marker={"symbol": "diamond", "size": 12, "color": "black"},
                        hovertemplate="%{x}<br>active weights %{y:.3g} GB<extra></extra>")
    fig.update_layout(barmode="stack", title=title, yaxis_title="GB (10^9 bytes)", height=380,
                      margin={"l": 10, "r": 10, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.2})
    return fig


def fits_frame(
    estimates: list[Estimate], ram_total: int | None = None, ram_available: int | None = None
) -> pd.DataFrame:
    """Devices x precisions: '✓' when weights (+ KV cache) fit on one, else how many it would take."""
    devices = list(DEVICES)
    if ram_total:
        devices.append(ram_device(ram_total, ram_available))
    rows = [{"device": d.name, "memory_gb": d.memory_gb} for d in devices]
    for e in estimates:
        for row, fit in zip(rows, fits_on(e.total_bytes, devices), strict=True):
            row[e.precision] = f"✓ ({fit.share:.0%})" if fit.fits else f"✗ needs {fit.count}"
    return pd.DataFrame(rows)


def lab_frame(report: LabReport) -> pd.DataFrame:
    """The lab's table: one row per variant."""
    rows = []
    for r in report.rows:
        row = {
            "variant": r.label + (" · baseline" if r.is_baseline else ""),
            "status": r.status,
            "load_s": r.load_s,
            "footprint_mb": None if r.memory_bytes is None else r.memory_bytes / 1e6,
            "peak_rss_mb": None if r.peak_rss_bytes is None else r.peak_rss_bytes / 1e6,
            "rss_rise_mb": None if r.rss_rise_bytes is None else r.rss_rise_bytes / 1e6,
            "tok_s": r.tok_s,
            "ttft_s": r.ttft_s,
            "token_agreement": r.token_agreement,
            "common_prefix": r.common_prefix,
            "similarity": r.similarity,
        }
        for key, value in r.quality.items():
            row[key] = value
        row["message"] = r.message or ""
        rows.append(row)
    return pd.DataFrame(rows)


def footprint_vs_speed(frame: pd.DataFrame) -> go.Figure:
    """Each finished variant as a point: measured footprint (x) against tokens/s (y)."""
    data = frame.dropna(subset=["footprint_mb", "tok_s"])
    fig = go.Figure(go.Scatter(
        x=data["footprint_mb"], y=data["tok_s"], mode="markers+text", text=data["variant"],
        textposition="top center", marker={"size": 14, "color": "#636EFA"},
        hovertemplate="%{text}<br>%{x:.0f} MB<br>%{y:.1f} tok/s<extra></extra>",
    ))
    fig.update_layout(title="Footprint vs speed (left and up is better)", xaxis_title="weights footprint (MB)",
                      yaxis_title="output tokens/s", height=380, margin={"l": 10, "r": 10, "t": 50, "b": 40})
    return fig


def drift_bars(frame: pd.DataFrame) -> go.Figure:
    """Token agreement and semantic similarity with the baseline, per variant (1.0 = no drift)."""
    data = frame[frame["status"] == "ok"]
    fig = go.Figure()
    fig.add_bar(x=data["variant"], y=data["token_agreement"], name="token agreement", marker_color="#636EFA",
                hovertemplate="%{x}<br>token agreement %{y:.2f}<extra></extra>")
    fig.add_bar(x=data["variant"], y=data["similarity"], name="semantic similarity", marker_color="#00CC96",
                hovertemplate="%{x}<br>similarity %{y:.2f}<extra></extra>")
    fig.update_layout(barmode="group", title="Drift from the baseline's greedy output (1.0 = identical)",
                      yaxis={"range": [0, 1.05]}, height=380, margin={"l": 10, "r": 10, "t": 50, "b": 40},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def catalog_architecture(entry: CatalogEntry) -> Architecture:
    return Architecture(entry.layers, entry.kv_heads, entry.head_dim)


# ---- rendering --------------------------------------------------------------------------------


@st.cache_data(ttl=60, show_spinner="Checking which precisions can run here…")
def _lab_options(model_id: str, _cat: Catalog) -> list:
    """What the lab offers for a model (probing bitsandbytes imports torch once: seconds)."""
    return options(_cat, model_id)


def _ram() -> tuple[int | None, int | None]:
    try:
        import psutil

        vm = psutil.virtual_memory()
        return int(vm.total), int(vm.available)
    except Exception:
        return None, None


def render_calculator(cat: Catalog) -> None:
    picked = _pick_model(cat)
    if picked is None:
        return
    entry, model_key, params_b, active_b = picked
    arch, context, batch, bytes_per_value = _kv_cache_inputs(entry, model_key)
    estimates = estimate(params_b * 1e9, active_params=active_b * 1e9 if active_b else None, arch=arch,
                         context=context, batch=batch, kv_bytes_per_value=bytes_per_value)
    frame = estimate_frame(estimates, moe=active_b is not None)
    if active_b:
        st.warning(f"Mixture of experts: all {params_b:g}B parameters must be resident in memory, but each token "
                   f"only runs through {active_b:g}B — memory follows the total, per-token compute the active count.",
                   icon=":material/hub:")
    st.dataframe(frame, hide_index=True, key="quant_estimates", column_config={
        "weights_gb": st.column_config.NumberColumn("weights (GB)", format="%.3g",
                                                    help="parameters × bytes per parameter (a floor: embeddings "
                                                         "and norms often stay wider)"),
        "kv_cache_gb": st.column_config.NumberColumn("KV cache (GB)", format="%.3g"),
        "total_gb": st.column_config.NumberColumn("total (GB)", format="%.3g"),
        "active_weights_gb": st.column_config.NumberColumn("active weights / token (GB)", format="%.3g"),
        "gflops_per_token": st.column_config.NumberColumn("GFLOPs / token", format="%.3g",
                                                          help="≈ 2 × active parameters"),
    })
    st.plotly_chart(memory_bars(frame, f"Memory by precision ({params_b:g}B parameters)"), key="quant_chart")
    total, available = _ram()
    st.markdown("**Fits on** (one device; ✗ says how many it would take split evenly; leave 10–20% for "
                "activations and the runtime)")
    fits = fits_frame(estimates, total, available)
    st.dataframe(fits, hide_index=True, key="quant_fits", height=36 * (len(fits) + 1) + 4,
                 column_config={"memory_gb": st.column_config.NumberColumn("memory (GB)", format="%g")})


def _pick_model(cat: Catalog) -> tuple[CatalogEntry | None, str, float, float | None] | None:
    """(catalog entry or None, widget-key suffix, parameters B, active parameters B); None when the input is invalid."""
    sized = {k: e for k, e in cat.entries.items() if e.params_b}
    source = st.radio("Model", ["From the catalog", "Type a parameter count"], horizontal=True, key="quant_source")
    entry: CatalogEntry | None = None
    model_key = "typed"
    if source == "From the catalog" and sized:
        model_id = st.selectbox("Catalog model", list(sized), key="quant_model",
                                format_func=lambda k: sized[k].label or k)
        entry = sized[model_id]
        model_key = model_id
        params_b, active_b = entry.params_b, entry.active_params_b
        st.caption(f"{params_b:g}B parameters" + (f", {active_b:g}B active per token (MoE)" if active_b else "")
                   + (f" · source: {entry.facts_source} ({entry.facts_as_of})" if entry.facts_source else ""))
    else:
        cols = st.columns(2)
        params_b = cols[0].number_input("Parameters (billions)", min_value=0.001, value=70.0, step=1.0,
                                        key="quant_params")
        active = cols[1].number_input("Active parameters per token, MoE (billions, 0 = dense)", min_value=0.0,
                                      value=0.0, step=1.0, key="quant_active")
        active_b = active or None
        if active_b and active_b > params_b:
            st.error(f"Active parameters ({active_b:g}B) cannot exceed the total ({params_b:g}B).")
            return None
    return entry, model_key, params_b, active_b


def _kv_cache_inputs(entry: CatalogEntry | None, model_key: str) -> tuple[Architecture, int, int, float]:
    """(architecture, context, batch, bytes per cached value): the KV cache's inputs, prefilled from the catalog."""
    arch = catalog_architecture(entry) if entry is not None else Architecture()
    st.markdown("**KV cache** (2 × layers × KV heads × head size × context × batch × bytes)")
    c = st.columns(6)
    context = c[0].number_input("Context (tokens)", min_value=1, value=min(entry.context_window or 4096, 8192)
                                if entry else 4096, step=1024, key="quant_context")
    batch = c[1].number_input("Batch", min_value=1, value=1, step=1, key="quant_batch")
    kv_dtype = c[2].selectbox("Cache precision", ["fp16/bf16 (2 B)", "fp8/int8 (1 B)", "fp32 (4 B)"],
                              key="quant_kv_dtype")
    layers = c[3].number_input("Layers", min_value=0, value=arch.layers or 0, key=f"quant_layers_{model_key}")
    kv_heads = c[4].number_input("KV heads", min_value=0, value=arch.kv_heads or 0,
                                 key=f"quant_kvh_{model_key}")
    head_dim = c[5].number_input("Head size", min_value=0, value=arch.head_dim or 0,
                                 key=f"quant_hd_{model_key}")
    arch = Architecture(layers or None, kv_heads or None, head_dim or None)
    if not arch.complete:
        st.info("Layers, KV heads and head size are unknown for this model: enter them (from its config.json) "
                "to include the KV cache. Until then the figures are weights only.", icon=":material/help:")
    bytes_per_value = {"fp16/bf16 (2 B)": 2.0, "fp8/int8 (1 B)": 1.0, "fp32 (4 B)": 4.0}[kv_dtype]
    return arch, int(context), int(batch), bytes_per_value


def render_lab(cat: Catalog, store: Store) -> None:
    models = lab_models(cat)
    if not models:
        st.info("The lab needs a local transformers model in models.yaml (the bundled SmolLM2 is one).")
        return
    if not readiness.llamacpp_installed():
        st.info(f"GGUF through llama.cpp is off: {readiness.LLAMACPP_INSTALL_HINT}.", icon=":material/extension:")
    jobs = state.jobs()
    lab_id = st.session_state.get("quant_lab_id")
    job = jobs.get(LabJob, lab_id) if lab_id else None
    running = job is not None and not job.done
    model_id = st.selectbox("Local model", models, key="quant_lab_model",
                            format_func=lambda k: cat.entries[k].label or k, disabled=running)
    try:
        offered = _lab_options(model_id, cat)
    except InvalidLab as exc:
        st.error(str(exc))
        return
    st.markdown("**Precisions** (each loads fresh and runs alone; greedy decoding)")
    chosen = []
    cols = st.columns(min(4, len(offered)))
    for i, option in enumerate(offered):
        v = option.variant
        default = option.problem is None and v.precision in ("fp32", "bf16", "4bit", "gguf")
        col = cols[i % len(cols)]
        if col.checkbox(v.label, value=default, disabled=option.problem is not None or running,
                        key=f"quant_lab_{v.ref}", help=option.problem):
            chosen.append(v.ref)
        if option.problem:
            col.caption(f"unavailable: {option.problem}")
    prompt = st.text_area("Prompt(s): separate several with a line holding only ---", key="quant_lab_prompt",
                          value="What is the capital of France? Answer in one sentence.", height=100)
    c1, c2 = st.columns([3, 1])
    reference = c1.text_input("Reference answer (optional: adds F1, ROUGE, BLEU, chrF)", key="quant_lab_reference")
    max_tokens = c2.number_input("Max tokens", min_value=1, max_value=2048, value=48, key="quant_lab_max_tokens")
    left, right, _ = st.columns([1, 1, 6])
    if left.button("Run lab", type="primary", key="quant_lab_run", disabled=running, icon=":material/science:"):
        prompts = [p.strip() for p in prompt.split("\n---\n")]
        settings = LabSettings(model_id, chosen, prompts, reference.strip() or None, max_tokens=int(max_tokens))
        try:
            job = start_lab(jobs, settings, cat, store)
            st.session_state["quant_lab_id"] = lab_id = job.report.lab_id
            running = True
        except InvalidLab as exc:
            st.error(str(exc))
    if right.button("Stop", key="quant_lab_stop", disabled=not running, icon=":material/stop:") and job is not None:
        job.cancel.set()
        st.toast("Stopping after the current generation…")
    shown = jobs.get(LabJob, lab_id) if lab_id else None
    if shown is not None:
        if running:
            _live_lab(shown.key)
        else:
            _lab_results(shown)


@st.fragment(run_every=1.0)
def _live_lab(lab_id: str) -> None:
    job = state.jobs().get(LabJob, lab_id)
    if job is None or job.done:
        st.rerun()
    report = job.snapshot()
    st.caption(f"Running: {report.progress}")
    st.dataframe(lab_frame(report), hide_index=True, key="quant_lab_live_table")


def _lab_results(job: LabJob) -> None:
    report = job.snapshot()
    if job.failure:
        st.error(f"The lab could not complete: {job.failure}")
    frame = lab_frame(report)
    st.dataframe(frame, hide_index=True, key="quant_lab_table", column_config={
        "load_s": st.column_config.NumberColumn("load (s)", format="%.2f"),
        "footprint_mb": st.column_config.NumberColumn("footprint (MB)", format="%.0f",
                                                      help="the engine's measured weights memory"),
        "peak_rss_mb": st.column_config.NumberColumn("peak RSS (MB)", format="%.0f",
                                                     help="process memory high-water mark while this variant ran"),
        "rss_rise_mb": st.column_config.NumberColumn("RSS rise (MB)", format="%.0f"),
        "tok_s": st.column_config.NumberColumn("tok/s", format="%.1f"),
        "ttft_s": st.column_config.NumberColumn("TTFT (s)", format="%.3f"),
        "token_agreement": st.column_config.NumberColumn("token agreement", format="%.2f",
                                                         help="share of token positions equal to the baseline's"),
        "common_prefix": st.column_config.NumberColumn("common prefix (tokens)", format="%.1f"),
        "similarity": st.column_config.NumberColumn("similarity", format="%.3f",
                                                    help="semantic similarity to the baseline's output"),
    })
    for note in report.notes:
        st.caption(note)
    if (frame["status"] == "ok").any():
        left, right = st.columns(2)
        left.plotly_chart(footprint_vs_speed(frame), key="quant_lab_scatter")
        right.plotly_chart(drift_bars(frame), key="quant_lab_drift")
        with st.expander("Outputs"):
            for row in report.rows:
                for i, text in enumerate(row.outputs):
                    st.markdown(f"**{row.label}** · prompt {i + 1}")
                    st.text(text)
    st.caption(f"Stored as run(s) {', '.join(report.run_ids)} (see History). Sizes: "
               + ", ".join(f"{r.label} {format_bytes(r.memory_bytes)}" for r in report.rows if r.memory_bytes))
