"""The lab's settings, its table rows, and the plan: which variants run, which are refused and why."""

from __future__ import annotations

from dataclasses import dataclass, field

from bakeoff.catalog.config import Catalog, UnknownModel, resolve
from bakeoff.quant_lab import memory
from bakeoff.quant_lab.variants import InvalidLab, Variant, options
from bakeoff.records import new_id
from providers import llamacpp_local
from providers.base import ModelSpec


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
    available = memory.available_ram()
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
        need, how = memory.estimate_bytes(spec, catalog.entries.get(spec.id))
        row.estimate_bytes = need
        if problem := memory.memory_problem(need, how, available):
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
