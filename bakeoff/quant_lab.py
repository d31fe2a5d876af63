"""The quantization lab: one prompt set through one local model at several precisions, side by side.

What it measures per variant (a transformers precision, or a GGUF run by llama.cpp):
  * load time and the engine's weights footprint (`memory_bytes`: get_memory_footprint / llama_model_size);
  * peak process memory: the process RSS sampled every 10 ms while that variant loads and generates
    (its high-water mark, and the rise over the RSS before it started);
  * tok/s and TTFT from the ordinary runner (bakeoff.runner.fan_out.fan_out), so they mean what they mean elsewhere;
  * drift from the baseline (fp32) greedy output: token agreement and common prefix with the base model's
    tokenizer, and semantic similarity with the scoring embedder; the reference metrics when a reference
    is given (bakeoff.runner.scoring, as for any run).
Variants run one after another, never together, and each is loaded fresh (a copy another page holds is
reloaded), so load time and memory belong to that variant alone. Each prompt is stored as an ordinary run
(source "lab"); the lab's own figures go into each result's provider_meta["quant_lab"].

Refused before anything runs, with the reason: a precision the backend cannot do (bitsandbytes missing, a
precision on a GGUF), a variant whose estimated weights exceed the RAM available now, llama.cpp not installed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakeoff.catalog.config import Catalog, CatalogEntry, UnknownModel, resolve
from bakeoff.records import Params, Result, Run, new_id
from bakeoff.runner.fan_out import fan_out, new_result
from bakeoff.runner.scoring import EMBEDDER, LazyEmbedder, score_results
from bakeoff.store.store import Store
from metrics.drift import token_drift
from metrics.memory import BYTES_PER_PARAM, ENGINE_PRECISION, format_bytes
from metrics.similarity import semantic_similarity
from providers import llamacpp_local, registry
from providers.base import PRECISIONS, HasPrecisions, ModelSpec

log = logging.getLogger(__name__)

QUALITY_KEYS = ("exact_match", "token_f1", "rougeL", "bleu", "chrf", "semantic_similarity")
_SAMPLE_S = 0.01


class InvalidLab(ValueError):
    """The lab cannot start: the message says what to change."""


@dataclass(frozen=True)
class Variant:
    ref: str  # what the runner takes: "smollm2-135m-instruct@bf16", "smollm2-135m-instruct-gguf"
    label: str  # "bf16 (transformers)", "Q4_1 GGUF (llama.cpp)"
    engine: str  # "transformers" | "llama.cpp"
    precision: str  # fp32 | bf16 | 8bit | 4bit (NF4) | fp4 | gguf


@dataclass(frozen=True)
class VariantOption:
    variant: Variant
    problem: str | None  # None: can run here; else why not (shown, and the option disabled)


def lab_models(catalog: Catalog) -> list[str]:
    """Catalog models the lab can quantize: in-process transformers models."""
    return [k for k, e in catalog.entries.items() if e.active and e.provider == "transformers"]


def gguf_companions(catalog: Catalog, model_id: str) -> list[str]:
    """llama.cpp entries that run the same weights file as `model_id` (same package and GGUF, or same path)."""
    base = catalog.entries.get(model_id)
    if base is None:
        return []

    def source(e: CatalogEntry) -> tuple[Any, ...]:
        o = e.options or {}
        if o.get("package"):
            return ("package", o.get("package"), o.get("gguf_file"), bool(o.get("assemble")))
        return ("path", str(Path(e.model).expanduser()))

    return [
        k for k, e in catalog.entries.items()
        if e.active and e.provider == "llamacpp" and source(e) == source(base)
    ]


def options(catalog: Catalog, model_id: str) -> list[VariantOption]:
    """Every variant the lab offers for `model_id`, each with why it cannot run here (None = it can)."""
    entry = catalog.entries.get(model_id)
    if entry is None or entry.provider != "transformers":
        raise InvalidLab(f"{model_id!r} is not a local transformers model in the catalog; pick one of "
                         f"{', '.join(lab_models(catalog)) or '(none)'}")
    spec = resolve(catalog, model_id)
    provider = registry.get("transformers")
    support = provider.precision_support(spec) if isinstance(provider, HasPrecisions) else {}
    offered = entry.precisions or list(PRECISIONS)
    out = []
    for p in PRECISIONS:
        reason = support.get(p) if p in offered else f"{model_id} does not offer {p} (models.yaml precisions)"
        out.append(VariantOption(Variant(f"{model_id}@{p}", f"{p} (transformers)", "transformers", p), reason))
    for gid in gguf_companions(catalog, model_id):
        gspec = resolve(catalog, gid)
        av = registry.get("llamacpp").check(gspec)
        label = _gguf_label(gid, catalog)
        out.append(VariantOption(Variant(gid, label, "llama.cpp", "gguf"), None if av.ok else av.detail))
    return out


def _gguf_label(model_id: str, catalog: Catalog) -> str:
    entry = catalog.entries[model_id]
    name = Path(entry.options.get("gguf_file") or entry.model).stem
    quant = name.rsplit(".", 1)[-1] if "." in name else "GGUF"
    return f"{quant} GGUF (llama.cpp)"


# ---- settings and results ---------------------------------------------------------------------


@dataclass
class LabSettings:
    model_id: str
    variants: list[str]  # refs from `options`
    prompts: list[str]
    reference: str | None = None
    system: str | None = None
    max_tokens: int = 64
    timeout_s: float = 300.0
    baseline: str | None = None  # default: the fp32 variant, else the first


@dataclass
class VariantRow:
    """One variant's line in the lab's table (means over the prompts)."""

    ref: str
    label: str
    engine: str
    precision: str
    status: str = "pending"  # pending | running | ok | refused | error | cancelled
    message: str | None = None
    estimate_bytes: float | None = None
    load_s: float | None = None
    memory_bytes: int | None = None
    peak_rss_bytes: int | None = None
    rss_rise_bytes: int | None = None
    tok_s: float | None = None
    ttft_s: float | None = None
    output_tokens: float | None = None
    token_agreement: float | None = None
    common_prefix: float | None = None
    similarity: float | None = None
    quality: dict[str, float] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    result_ids: list[str] = field(default_factory=list)
    is_baseline: bool = False


@dataclass
class LabReport:
    settings: LabSettings
    rows: list[VariantRow]
    run_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    progress: str = ""
    lab_id: str = field(default_factory=new_id)


# ---- memory ----------------------------------------------------------------------------------


class RssSampler:
    """High-water mark of this process's RSS, sampled on a thread (getrusage's peak never goes down)."""

    def __init__(self, interval_s: float = _SAMPLE_S):
        import psutil

        self._proc = psutil.Process()
        self._interval = interval_s
        self._stop = threading.Event()
        self.start_rss = self._proc.memory_info().rss
        self.peak = self.start_rss
        self._thread = threading.Thread(target=self._loop, name="bakeoff-rss-sampler", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def available_ram() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:
        return None


def estimate_bytes(spec: ModelSpec, entry: CatalogEntry | None) -> tuple[float | None, str]:
    """Weights memory expected for a variant, and how it was estimated."""
    if spec.provider == "llamacpp":
        try:
            from providers.local_weights import locate

            gguf = locate(spec).gguf
            if gguf is not None and gguf.is_file():
                return float(gguf.stat().st_size), f"GGUF file size {format_bytes(gguf.stat().st_size)}"
        except Exception:
            pass
        params = entry.params_b * 1e9 if entry and entry.params_b else None
        return (params * 5 / 8, "parameters x ~5 bits") if params else (None, "size unknown")
    params = entry.params_b * 1e9 if entry and entry.params_b else None
    if params is None:
        return None, "parameter count unknown"
    per = BYTES_PER_PARAM[ENGINE_PRECISION[spec.precision or "fp32"]]
    return params * per, f"{params / 1e6:.0f}M parameters x {per:g} bytes"


def memory_problem(need: float | None, how: str, available: int | None) -> str | None:
    """Refusal text when the estimate exceeds the RAM available now, with the numbers.

    >>> memory_problem(280e9, "70000M parameters x 4 bytes", 64_000_000_000)
    'needs about 280 GB for its weights (70000M parameters x 4 bytes) but only 64 GB of RAM is available now'
    >>> memory_problem(1e8, "x", 64_000_000_000) is None
    True
    """
    if need is None or available is None or need <= available:
        return None
    return (
        f"needs about {format_bytes(need)} for its weights ({how}) "
        f"but only {format_bytes(available)} of RAM is available now"
    )


# ---- running ---------------------------------------------------------------------------------


def plan(settings: LabSettings, catalog: Catalog) -> tuple[list[VariantRow], dict[str, ModelSpec]]:
    """Validate and resolve; rows for refused variants carry their reason. Raises InvalidLab."""
    prompts = [p for p in settings.prompts if p and p.strip()]
    if not prompts:
        raise InvalidLab("The prompt is empty: type at least one prompt for the lab.")
    if not settings.variants:
        raise InvalidLab("No precision selected: pick at least one.")
    if settings.max_tokens < 1:
        raise InvalidLab(f"Max tokens must be at least 1 (got {settings.max_tokens}).")
    if len(set(settings.variants)) != len(settings.variants):
        raise InvalidLab("A precision is selected twice.")
    offered = {o.variant.ref: o for o in options(catalog, settings.model_id)}
    available = available_ram()
    rows, specs = [], {}
    for ref in settings.variants:
        option = offered.get(ref)
        if option is None:
            base_id, _, precision = ref.partition("@")
            variant = Variant(ref, ref, "?", precision or "?")
            base = catalog.entries.get(base_id)
            try:
                resolve(catalog, ref)
                problem = f"{ref} is not a variant of {settings.model_id}"
            except UnknownModel as exc:
                problem = str(exc)
            if precision and base is not None and base.provider == "llamacpp":
                problem = f"{precision} on a GGUF model: {llamacpp_local.precision_reason()}"
            rows.append(VariantRow(ref, variant.label, variant.engine, variant.precision, "refused", problem))
            continue
        v = option.variant
        row = VariantRow(v.ref, v.label, v.engine, v.precision)
        rows.append(row)
        if option.problem:
            row.status, row.message = "refused", option.problem
            continue
        spec = resolve(catalog, ref)
        need, how = estimate_bytes(spec, catalog.entries.get(spec.id))
        row.estimate_bytes = need
        if problem := memory_problem(need, how, available):
            row.status, row.message = "refused", problem
            continue
        specs[ref] = spec
    if not specs:
        reasons = "; ".join(f"{r.label}: {r.message}" for r in rows)
        raise InvalidLab(f"Nothing can run: {reasons}")
    baseline = settings.baseline or next(
        (r.ref for r in rows if r.precision == "fp32" and r.ref in specs), next(iter(specs))
    )
    if baseline not in specs:
        raise InvalidLab(f"The baseline {baseline} cannot run here; pick another baseline.")
    settings.baseline = baseline
    for r in rows:
        r.is_baseline = r.ref == baseline
    settings.prompts = prompts
    return rows, specs


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
            await asyncio.to_thread(store.save_run, run)
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
                await asyncio.to_thread(store.save_result, res)
            await asyncio.to_thread(store.set_run_status, run.run_id, "cancelled" if cancelled else "done")
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
            await fan_out(run, [spec], catalog, results=[res], cancel=cancel,
                          on_finish=store.save_result if store is not None else None)
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


# ---- background jobs for the page ------------------------------------------------------------


@dataclass
class LabJob:
    report: LabReport
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failure: str | None = None
    _view: LabReport | None = None

    def publish(self, report: LabReport) -> None:
        import copy

        snap = copy.deepcopy(report)
        with self.lock:
            self._view = snap

    def snapshot(self) -> LabReport:
        with self.lock:
            return self._view if self._view is not None else self.report

    @property
    def done(self) -> bool:
        return self.finished.is_set()


class LabJobs:
    """Process-wide registry of lab runs; one runs at a time (they would compete for the CPU and RAM)."""

    def __init__(self, keep: int = 20):
        self._jobs: dict[str, LabJob] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def start(self, settings: LabSettings, catalog: Catalog, store: Store | None) -> LabJob:
        """Plan synchronously (raises InvalidLab), then run on a background thread."""
        rows, _ = plan(settings, catalog)
        with self._lock:
            if any(not j.done for j in self._jobs.values()):
                raise InvalidLab("A lab run is already in progress; wait for it or stop it.")
            job = LabJob(LabReport(settings, rows))
            job.publish(job.report)
            self._jobs[job.report.lab_id] = job
            done = [k for k, j in self._jobs.items() if j.done]
            for old in done[: max(0, len(self._jobs) - self._keep)]:
                del self._jobs[old]
        threading.Thread(target=self._work, args=(job, catalog, store), name="bakeoff-quant-lab", daemon=True).start()
        return job

    @staticmethod
    def _work(job: LabJob, catalog: Catalog, store: Store | None) -> None:
        try:
            asyncio.run(run_lab(job.report.settings, catalog, store, report=job.report, on_update=job.publish,
                                cancel=job.cancel))
        except Exception as exc:
            log.exception("quantization lab failed")
            job.failure = f"{type(exc).__name__}: {exc}"
        finally:
            job.publish(job.report)
            job.finished.set()

    def get(self, lab_id: str) -> LabJob | None:
        with self._lock:
            return self._jobs.get(lab_id)
