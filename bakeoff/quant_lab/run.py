"""Running the lab: each variant in turn through the ordinary runner, then quality and drift from the baseline."""

from __future__ import annotations

import asyncio
import gc
import logging
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from bakeoff.catalog.config import Catalog, resolve
from bakeoff.quant_lab.memory import RssSampler
from bakeoff.quant_lab.planner import LabReport, LabSettings, VariantRow, plan
from bakeoff.records import Params, Result, Run
from bakeoff.runner.fan_out import fan_out, new_result
from bakeoff.runner.scoring import EMBEDDER, LazyEmbedder, score_results
from bakeoff.runner.store_writes import write
from bakeoff.store.store import Store
from metrics.drift import token_drift
from metrics.similarity import semantic_similarity
from providers import registry
from providers.base import ModelSpec

log = logging.getLogger(__name__)

QUALITY_KEYS = ("exact_match", "token_f1", "rougeL", "bleu", "chrf", "semantic_similarity")


async def run_lab(
    settings: LabSettings,
    catalog: Catalog,
    store: Store | None,
    *,
    report: LabReport | None = None,
    on_update: Callable[[LabReport], None] | None = None,
    cancel: threading.Event | None = None,
    embedder: LazyEmbedder | None = None,
) -> LabReport:
    """Run every runnable variant over every prompt, one variant at a time; fill and return the report."""
    if report is None:
        rows, specs = plan(settings, catalog)
        report = LabReport(settings, rows)
    else:
        specs = {r.ref: resolve(catalog, r.ref) for r in report.rows if r.status == "pending"}
    notify = on_update or (lambda _r: None)
    params = Params(system=settings.system, max_tokens=settings.max_tokens, temperature=0.0,
                    timeout_s=settings.timeout_s)
    runs = [
        Run(prompt=p, model_refs=list(specs), params=params, reference=settings.reference, source="lab")
        for p in settings.prompts
    ]
    report.run_ids = [r.run_id for r in runs]
    if store is not None:
        for run in runs:
            await write(store.save_run, run)
    results: dict[str, list[Result]] = {}
    for row in report.rows:
        if row.status != "pending":
            continue
        if cancel is not None and cancel.is_set():
            row.status, row.message = "cancelled", "stopped before it ran"
            continue
        spec = specs[row.ref]
        row.status = "running"
        report.progress = f"{row.label}: loading and generating…"
        notify(report)
        results[row.ref] = await _run_variant(row, spec, runs, catalog, store, cancel)
        notify(report)
    report.progress = "scoring drift and quality…"
    notify(report)
    await asyncio.to_thread(_score, report, runs, results, specs, embedder or EMBEDDER)
    cancelled = cancel is not None and cancel.is_set()
    if store is not None:
        for run in runs:
            for res in (r for rs in results.values() for r in rs if r.run_id == run.run_id):
                await write(store.save_result, res)
            await write(store.set_run_status, run.run_id, "cancelled" if cancelled else "done")
    report.progress = "cancelled" if cancelled else "done"
    notify(report)
    return report


async def _run_variant(
    row: VariantRow, spec: ModelSpec, runs: Sequence[Run], catalog: Catalog, store: Store | None,
    cancel: threading.Event | None,
) -> list[Result]:
    provider: Any = registry.get(spec.provider)
    try:
        if provider.is_loaded(spec):  # someone else's copy: reload, so load time and memory are this run's
            await asyncio.to_thread(provider.unload, spec)
    except Exception as exc:
        log.warning("could not check/unload %s: %s", spec.display_id, exc)
    gc.collect()
    out: list[Result] = []
    started = time.perf_counter()
    with RssSampler() as rss:
        for run in runs:
            res = new_result(run, row.ref, spec)
            await fan_out(run, [spec], catalog, results=[res], cancel=cancel)
            if store is not None:  # off the engine loop, which other jobs may be streaming on
                try:
                    await write(store.save_result, res)
                except Exception:
                    log.exception("could not save result %s", res.result_id)
            out.append(res)
            if res.status != "ok":
                break
    try:
        await asyncio.to_thread(provider.unload, spec)  # free it before the next variant loads
    except Exception as exc:
        log.warning("could not unload %s: %s", spec.display_id, exc)
    gc.collect()
    ok = [r for r in out if r.status == "ok"]
    row.result_ids = [r.result_id for r in out]
    row.outputs = [r.output for r in out]
    row.peak_rss_bytes, row.rss_rise_bytes = rss.peak, rss.peak - rss.start_rss
    first = out[0] if out else None
    row.load_s = first.load_s if first is not None else None
    row.memory_bytes = next((r.memory_bytes for r in out if r.memory_bytes), None)
    row.tok_s = _mean(r.output_tokens_per_s for r in ok)
    row.ttft_s = _mean(r.ttft_s for r in ok)
    row.output_tokens = _mean(r.output_tokens for r in ok)
    if len(ok) == len(runs):
        row.status = "ok"
    else:
        failed = next(r for r in out if r.status != "ok")
        row.status = "cancelled" if failed.status == "cancelled" else "error"
        row.message = failed.error.message if failed.error else failed.status
    log.info("lab %s: %.1f s", row.ref, time.perf_counter() - started)
    return out


def _score(
    report: LabReport, runs: Sequence[Run], results: dict[str, list[Result]], specs: dict[str, ModelSpec],
    embedder: LazyEmbedder,
) -> None:
    """Quality scores per run (as any run), then drift of every variant from the baseline."""
    for run in runs:
        score_results(run, [r for rs in results.values() for r in rs if r.run_id == run.run_id], embedder=embedder)
    baseline = report.settings.baseline
    base_results = {r.run_id: r for r in results.get(baseline or "", []) if r.status == "ok"}
    if not base_results:
        report.notes.append("drift not computed: the baseline produced no output")
        return
    tokenize = _tokenizer_for(specs[baseline])  # one vocabulary for every variant: the base model's
    embed, why = embedder.get()
    if embed is None:
        report.notes.append(f"semantic drift skipped: {why}")
    for row in report.rows:
        drifts, prefixes, sims = [], [], []
        for res in results.get(row.ref, []):
            base = base_results.get(res.run_id)
            if res.status != "ok" or base is None:
                continue
            lab: dict[str, Any] = {"baseline": baseline, "lab_id": report.lab_id}
            if tokenize is not None:
                d = token_drift(tokenize(base.output), tokenize(res.output))
                lab.update(token_agreement=d.agreement, common_prefix=d.common_prefix, prefix_share=d.prefix_share)
                drifts.append(d.agreement)
                prefixes.append(d.common_prefix)
            if embed is not None:
                sim = semantic_similarity(res.output, base.output, embed=embed)
                lab["similarity_to_baseline"] = sim
                sims.append(sim)
            lab.update(peak_rss_bytes=row.peak_rss_bytes, rss_rise_bytes=row.rss_rise_bytes, variant=row.label)
            res.provider_meta["quant_lab"] = lab
        row.token_agreement = _mean(drifts)
        row.common_prefix = _mean(prefixes)
        row.similarity = _mean(sims)
        for key in QUALITY_KEYS:
            value = _mean(r.scores.get(key) for r in results.get(row.ref, []) if r.status == "ok")
            if value is not None:
                row.quality[key] = value
    if tokenize is None:
        report.notes.append("token agreement skipped: the base model's tokenizer could not be loaded")


def _tokenizer_for(spec: ModelSpec) -> Callable[[str], list[int]] | None:
    provider: Any = registry.get(spec.provider)
    try:
        provider.tokenize_output(spec, "probe")
    except Exception:
        log.exception("no tokenizer for %s", spec.display_id)
        return None
    return lambda text: provider.tokenize_output(spec, text)


def _mean(values: Any) -> float | None:
    got = [float(v) for v in values if v is not None]
    return statistics.fmean(got) if got else None
