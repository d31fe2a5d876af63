"""Streamlit pieces of the Batch page: input, model and settings pickers, progress, results tables.

A suite's own views (pass/fail grid, prompt variants) are in ui/suite_view.py."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import pandas as pd
import streamlit as st

from bakeoff.batch.input import BatchInputError, BatchItem, parse_items
from bakeoff.batch.results import (
    EXPORT_FORMATS,
    aggregate_frame,
    cells_frame,
    comparable_metrics,
    default_metric,
    export_bytes,
    paired,
)
from bakeoff.batch.runner import Batch, BatchRefused, Progress, estimate_batch
from bakeoff.batch.suite import SuiteInfo
from bakeoff.catalog.choices import default_models, default_precision, picker_order, ref_label
from bakeoff.catalog.config import Catalog
from bakeoff.catalog.estimate import CostEstimate, check_budget
from bakeoff.records import Params, Result
from bakeoff.report import batch_html
from metrics.cost import format_usd
from ui import state
from ui.cards import safe_markdown
from ui.estimate_view import estimate_frame, md_dollars
from ui.sidebar import BADGE, availabilities
from ui.suite_view import is_suite, render_grid, render_variants

MIME = {"csv": "text/csv", "jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}
EXAMPLE = 'id,prompt,reference\nq1,What is the capital of France?,Paris\nq2,"What is 2+2? Answer with a number.",4\n'
SUITE_EXAMPLE = (
    'prompts: ["What is the capital of {{country}}?", "Name the capital city of {{country}}. One word."]\n'
    'tests:\n  - vars: {country: France}\n    reference: Paris\n    assert: ["contains/i: paris"]\n'
)


# ---- input ------------------------------------------------------------------------------------------------------


def read_items() -> tuple[list[BatchItem] | None, str]:
    """The prompt set from an uploaded file or pasted text; shows what is wrong with it, if anything."""
    upload = st.file_uploader(
        "Prompt file",
        type=["csv", "jsonl", "ndjson", "yaml", "yml"],
        key="batch_file",
        help="Columns: `prompt` (required), `system`, `reference`, `id`; any other column is kept as metadata. "
        "Or a YAML test suite: `prompts` (templates with `{{variables}}`), `tests` (each with `vars`, optional "
        "`reference`, `assert` checks and `description`), optional `system`, `description`, `defaultTest`.",
    )
    with st.expander("…or paste the prompts or a suite", expanded=upload is None):
        fmt = st.radio("Format", ["csv", "jsonl", "yaml"], horizontal=True, key="batch_paste_format",
                       persist_state=state.KEEP_ACROSS_PAGES)
        placeholder = SUITE_EXAMPLE if fmt == "yaml" else EXAMPLE
        pasted = st.text_area("Prompts", key="batch_paste", height=140, placeholder=placeholder,
                               persist_state=state.KEEP_ACROSS_PAGES)
    if upload is not None:
        data, name, kind = upload.getvalue(), upload.name, None
    elif pasted.strip():
        data, name, kind = pasted.encode(), f"pasted {fmt.upper()}", fmt
    else:
        return None, ""
    try:
        items = parse_items(data, name, kind)
    except BatchInputError as exc:
        st.error(str(exc), icon=":material/error:")
        return None, name
    suite = [info for i in items if (info := SuiteInfo.from_metadata(i.metadata)) is not None]
    if suite:
        n_prompts, n_tests = len({s.prompt_index for s in suite}), len({s.test for s in suite})
        checks = sum(len(s.asserts) for s in suite if s.prompt_index == 1)
        st.caption(
            f"Suite from {name}: {n_prompts} prompt{'s' if n_prompts != 1 else ''} × {n_tests} "
            f"test{'s' if n_tests != 1 else ''} = {len(items)} items · {checks} check{'s' if checks != 1 else ''}"
        )
        return items, name
    extra = sorted({k for i in items for k in i.metadata})
    st.caption(
        f"{len(items)} prompt{'s' if len(items) != 1 else ''} from {name}"
        + (f" · {sum(i.reference is not None for i in items)} with a reference")
        + (f" · metadata: {', '.join(extra)}" if extra else "")
    )
    return items, name


def model_picker(cat: Catalog) -> list[str]:
    """Model references to run; a local model with precisions is offered once per usable precision.

    Ready models come first and the Compare page's default pair (runnable chat models) is preselected.
    """
    ready = availabilities(cat)
    options: list[str] = []
    preselect: list[str] = []
    defaults = default_models(cat, ready).model_ids
    for model_id in picker_order(cat, ready):
        e = cat.entries[model_id]
        if e.precisions:
            support = state.precision_support(model_id)
            options += [f"{model_id}@{p}" for p in e.precisions if support.get(p) is None]
            chosen = default_precision(e, support) if model_id in defaults else None
            preselect += [f"{model_id}@{chosen}"] if chosen else []
        else:
            options.append(model_id)
            preselect += [model_id] if model_id in defaults else []

    def label(ref: str) -> str:
        model_id = ref.partition("@")[0]
        e = cat.entries[model_id]
        where = "local" if e.kind == "local" else e.provider
        limit = e.rate_limit
        rpm = f" · {limit.requests_per_minute:g} req/min" if limit and limit.requests_per_minute else ""
        return f"{ref_label(cat, ref)} · {where}{rpm} · {BADGE.get(ready[model_id].state, '')}"

    if "batch_models" not in st.session_state:
        st.session_state["batch_models"] = preselect
    return st.multiselect("Models", options, key="batch_models", format_func=label,
                          persist_state=state.KEEP_ACROSS_PAGES, help="Ready models first.")


def settings() -> tuple[Params, int, int, Decimal | None]:
    """Generation settings, repeats, concurrency and the budget cap."""
    temperature = st.slider(
        "Temperature",
        0.0,
        2.0,
        0.0,
        0.05,
        key="batch_temperature", persist_state=state.KEEP_ACROSS_PAGES,
        help="0 = greedy; repeats then measure speed spread, not answer variety.",
    )
    max_tokens = st.number_input("Max tokens", 1, 32768, 256, 16, key="batch_max_tokens",
                                 persist_state=state.KEEP_ACROSS_PAGES)
    repeats = st.number_input(
        "Repeats",
        1,
        100,
        1,
        key="batch_repeats", persist_state=state.KEEP_ACROSS_PAGES,
        help="Each prompt is sent this many times to each model (for latency spread and CIs).",
    )
    concurrency = st.number_input(
        "Concurrency",
        1,
        256,
        8,
        key="batch_concurrency", persist_state=state.KEEP_ACROSS_PAGES,
        help="Calls in flight at once over all models; per-provider rate limits from "
        "models.yaml (`rate_limit`) apply on top.",
    )
    system = st.text_area("System prompt (for items without one)", key="batch_system", height=70,
                          persist_state=state.KEEP_ACROSS_PAGES)
    text = st.text_input(
        "Budget cap (USD)",
        key="batch_budget", persist_state=state.KEEP_ACROSS_PAGES,
        placeholder="no cap",
        help="The batch refuses to start when its upper-bound estimate is above the cap, and stops "
        "once what it actually cost reaches it.",
    )
    cap = None
    if text.strip():
        try:
            cap = Decimal(text.strip().lstrip("$"))
            if not cap.is_finite() or cap <= 0:
                raise InvalidOperation
        except InvalidOperation:
            st.warning(f"Budget cap {text!r} is not a positive amount; no cap applies.")
            cap = None
    params = Params(system=system.strip() or None, max_tokens=int(max_tokens), temperature=float(temperature))
    return params, int(repeats), int(concurrency), cap


def show_estimate(batch: Batch, cat: Catalog) -> tuple[CostEstimate | None, str | None]:
    """The pre-run estimate and, when the cap refuses it, why (None otherwise)."""
    try:
        est = estimate_batch(batch, cat)
    except BatchRefused as exc:
        st.warning(str(exc))
        return None, str(exc)
    refusal = check_budget(est, batch.budget_usd)
    line = f"Estimate: {est.summary()}"
    if batch.budget_usd is not None:
        line += f" · cap {format_usd(batch.budget_usd)}"
    with st.expander(md_dollars(line), icon=":material/payments:"):
        st.caption(
            "Upper bound before sending: input counted with tiktoken, every answer assumed to reach max "
            "tokens. The real cost comes from the providers' reported usage as cells land."
        )
        st.dataframe(estimate_frame(est), hide_index=True)
    if refusal:
        st.error(md_dollars(refusal), icon=":material/block:")
    return est, refusal


# ---- progress ---------------------------------------------------------------------------------------------------


def render_progress(p: Progress) -> None:
    st.progress(min(1.0, p.fraction), text=md_dollars(p.line()))
    st.caption(f"{p.running} call{'s' if p.running != 1 else ''} in flight · elapsed {p.elapsed_s:.0f} s")


# ---- results ----------------------------------------------------------------------------------------------------


def _fmt(v: float | None, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}g}"


def aggregates_display(agg: pd.DataFrame, scores: Sequence[str]) -> pd.DataFrame:
    """Readable per-model table: latency and cost summaries, each score as `mean [low, high]`."""
    out = pd.DataFrame(
        {"model": agg["model"], "ok / cells": [f"{o}/{c}" for o, c in zip(agg["ok"], agg["cells"], strict=True)]}
    )
    for field, name in (("ttft_s", "TTFT"), ("e2e_s", "E2E")):
        for stat in ("mean", "median", "p95"):
            out[f"{name} {stat} (s)"] = agg[f"{field}_{stat}"]
    if "pass_rate" in agg:
        out["passed"] = [
            f"{p}/{j} ({r:.0%})" if j else "—"
            for p, j, r in zip(agg["passed"], agg["judged"], agg["pass_rate"], strict=True)
        ]
    out["tok/s mean"] = agg["tok_s_mean"]
    out["cost total"] = [
        format_usd(Decimal(str(v))) if v is not None and not pd.isna(v) else "unpriced" for v in agg["cost_total_usd"]
    ]
    out["cost / item"] = [
        format_usd(Decimal(str(round(v, 6)))) if v is not None and not pd.isna(v) else "unpriced"
        for v in agg["cost_per_item_usd"]
    ]
    for name in scores:
        out[f"{name} [95% CI]"] = [
            f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]" if not pd.isna(m) and not pd.isna(lo) else _fmt(m)
            for m, lo, hi in zip(agg[name], agg[f"{name}_low"], agg[f"{name}_high"], strict=True)
        ]
    return out


def render_results(batch: Batch, results: list[Result], cached: set[str]) -> None:
    if not results:
        st.info("No cell has finished yet.")
        return
    if is_suite(results):
        render_grid(results, batch.model_refs)
        render_variants(results, batch.model_refs)
    st.subheader("Per model")
    agg = aggregate_frame(results, batch.model_refs)
    scores = sorted({k for r in results for k in r.scores})
    st.dataframe(aggregates_display(agg, scores), hide_index=True, key="batch_aggregates")
    st.caption(
        "Latency and speed over the cells that answered (failed ones are counted, never as zeros); "
        "score CIs are 95% percentile bootstraps over cells. TTFT/E2E follow vLLM's benchmark definitions."
    )

    _render_paired(results)

    st.subheader("Per item")
    frame = cells_frame(batch.items, results, cached)
    ids = list(dict.fromkeys(frame["id"]))
    pick = st.selectbox("Item", ids, key="batch_item", format_func=lambda i: f"{i}: {_prompt_of(batch.items, i)[:80]}")
    item = next((i for i in batch.items if i.item_id == pick), None)
    if item is not None:
        st.markdown(f"**Prompt:** {safe_markdown(item.prompt)}")  # a shared prompt file may carry remote images
        if item.reference is not None:
            st.markdown(f"**Reference:** {safe_markdown(item.reference)}")
        if item.metadata:
            st.caption(" · ".join(f"{k}: {v}" for k, v in item.metadata.items()))
    cols = ["model", "repeat", "status", "cached", "output", "error_message", "ttft_s", "e2e_s", "cost_usd"]
    cols += [c for c in frame.columns if c.startswith("score_")]
    st.dataframe(frame.loc[frame["id"] == pick, cols], hide_index=True, key="batch_item_table")

    st.subheader("Export")
    cols = st.columns(len(EXPORT_FORMATS) + 1)
    for col, fmt in zip(cols, EXPORT_FORMATS, strict=False):
        col.download_button(
            f"{fmt.upper()}",
            export_bytes(frame, fmt),
            file_name=f"batch-{batch.batch_id}.{fmt}",
            mime=MIME[fmt],
            key=f"batch_export_{fmt}",
            icon=":material/download:",
        )
    cols[-1].download_button(
        "Download report (HTML)",
        lambda: batch_html(batch, results).encode("utf-8", "replace"),
        file_name=f"batch-{batch.batch_id}.html",
        mime="text/html",
        key="batch_report",
        icon=":material/description:",
        help="One self-contained file to share: aggregates with CIs, paired comparisons, every answer; opens offline.",
    )


def _render_paired(results: list[Result]) -> None:
    """Two models' difference on one metric over the prompts both answered, with its CI and win rates."""
    models = list(dict.fromkeys(r.model_ref for r in results))
    if len(models) < 2:
        return
    st.subheader("Paired comparison")
    metrics = comparable_metrics(results)
    a_col, b_col, m_col = st.columns(3)
    a = a_col.selectbox("Model A", models, index=0, key="batch_pair_a")
    b = b_col.selectbox("Model B", models, index=1, key="batch_pair_b")
    names = sorted(metrics)
    default = default_metric(results, a, b, names) or names[0]
    metric = m_col.selectbox("Metric", names, index=names.index(default), key="batch_pair_metric",
                             help="Defaults to the first task grade on which the two models differ somewhere.")
    if a == b:
        st.caption("Pick two different models.")
        return
    pc = paired(results, a, b, metric)
    if pc["items"] == 0:
        st.caption("No prompt has an answer from both models for this metric.")
        return
    better = "higher" if pc["higher_is_better"] else "lower"
    st.markdown(
        f"On **{pc['items']}** prompts both answered, {a} − {b} = **{_fmt(pc['mean_diff'])}** "
        f"(95% CI {_fmt(pc['ci_low'])} to {_fmt(pc['ci_high'])}; {better} is better). "
        f"{a} better on **{pc['a_wins']:.0%}**, tie {pc['ties']:.0%}, {b} better on {pc['b_wins']:.0%}."
    )


def _prompt_of(items: Sequence[BatchItem], item_id: str) -> str:
    return next((i.prompt for i in items if i.item_id == item_id), "")
