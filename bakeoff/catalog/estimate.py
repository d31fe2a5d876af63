"""What a run or batch could cost before it is sent: an upper bound per model, honest about unknowns.

Output is bounded by max_tokens (capped by the model's own output limit), so the bound is as if every
answer ran to the limit; input tokens are estimated with tiktoken (the provider's own tokenizer may
count somewhat differently). Cached-input discounts are ignored (the bound assumes none), reasoning
tokens are priced at the higher of the output and reasoning rates, and a long-context tier applies
per prompt, as `bakeoff.runner.finalize` prices a finished call. A model without a price row is *unpriced*:
it is counted and named, never added as $0. Local models are billed by busy seconds, which cannot be
known before they run, so they are marked "local compute, not estimated".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bakeoff.catalog.config import Catalog, resolve
from metrics import cost as cost_metrics
from metrics.cost import format_usd
from metrics.tokens import encoding_name_for, estimate_tokens

LOCAL_NOT_ESTIMATED = "local compute, not estimated"


@dataclass(frozen=True)
class ModelEstimate:
    """One model's share of the estimate."""

    model_ref: str
    calls: int  # prompts × repeats
    input_tokens: int  # estimated, summed over every call
    max_output_tokens: int  # per call: max_tokens capped by the model's output limit
    usd: Decimal | None  # upper bound; None when it cannot be bounded (unpriced or local compute)
    priced: bool
    basis: str  # how `usd` was reached, or why it is missing
    price_as_of: dt.date | None = None
    local: bool = False  # billed by busy seconds (local compute), so not estimated

    @property
    def max_output_total(self) -> int:
        return self.calls * self.max_output_tokens


@dataclass(frozen=True)
class CostEstimate:
    rows: list[ModelEstimate] = field(default_factory=list)

    @property
    def total_usd(self) -> Decimal | None:
        """Sum of the priced rows' bounds; None when no row is priced (never a made-up $0)."""
        priced = [r.usd for r in self.rows if r.usd is not None]
        return sum(priced, Decimal(0)) if priced else None

    @property
    def unpriced(self) -> list[str]:
        """API models with no price row in force: their cost is unknown."""
        return [r.model_ref for r in self.rows if r.usd is None and not r.local]

    @property
    def local_unestimated(self) -> list[str]:
        return [r.model_ref for r in self.rows if r.usd is None and r.local]

    @property
    def complete(self) -> bool:
        """Every model is bounded, so total_usd bounds the whole run."""
        return all(r.usd is not None for r in self.rows)

    def summary(self) -> str:
        """One line for a page or a terminal, e.g. "up to $0.0123 for 2 models; 1 unpriced (x)"."""
        total = self.total_usd
        calls = sum(r.calls for r in self.rows)
        head = f"{calls} call{'s' if calls != 1 else ''}: "
        head += f"up to {format_usd(total)}" if total is not None else "cost unknown"
        bounded = sum(1 for r in self.rows if r.usd is not None)
        if not self.complete and total is not None:
            head += f" for the {bounded} priced model{'s' if bounded != 1 else ''}"
        notes = []
        if self.unpriced:
            notes.append(f"{len(self.unpriced)} unpriced ({', '.join(self.unpriced)})")
        if self.local_unestimated:
            notes.append(f"{len(self.local_unestimated)} {LOCAL_NOT_ESTIMATED} ({', '.join(self.local_unestimated)})")
        return head + ("; " + "; ".join(notes) if notes else "")


def _prompt_text(system: str | None, prompt: str) -> str:
    """The text the runner counts for a request (same join as bakeoff.runner.preflight.prompt_text)."""
    return f"{system}\n{prompt}" if system else prompt


def estimate_cells(
    catalog: Catalog,
    cells: Iterable[tuple[str, str | None, str]],
    max_tokens: int,
    day: dt.date | None = None,
) -> CostEstimate:
    """Estimate arbitrary calls, each (model_ref, system, prompt): a batch's remaining cells, say.

    Raises config.UnknownModel for a reference the catalog cannot resolve.
    """
    day = day or dt.datetime.now(dt.UTC).date()
    per_model: dict[str, list[tuple[str | None, str]]] = {}
    for ref, system, prompt in cells:
        per_model.setdefault(ref, []).append((system, prompt))
    rows = []
    for ref, prompts in per_model.items():
        spec = resolve(catalog, ref)
        out_cap = min(max_tokens, spec.max_output_tokens) if spec.max_output_tokens else max_tokens
        counts = [estimate_tokens(_prompt_text(s, p), spec.model) for s, p in prompts]
        row = catalog.price_on(spec.id, day)
        usd: Decimal | None = None
        basis, as_of, local = "unpriced: no price row in pricing.yaml", None, False
        if row is not None:
            usd, tiered = Decimal(0), False
            for n in counts:
                rates = row.rates(n)
                tiered = tiered or rates.long_context
                out_rate = max(rates.output, rates.reasoning) if rates.reasoning is not None else rates.output
                usd += cost_metrics.api_cost(n, out_cap, input_per_m=rates.input, output_per_m=out_rate)
            basis = (
                f"api price of {row.as_of.isoformat()}{', long-context tier for some prompts' if tiered else ''}; "
                f"input estimated with tiktoken {encoding_name_for(spec.model)}, every answer at {out_cap} tokens"
            )
            as_of = row.as_of
        elif spec.kind == "local":
            local = True
            basis = f"{LOCAL_NOT_ESTIMATED}: billed by busy seconds, known only after the run"
        rows.append(
            ModelEstimate(
                model_ref=ref,
                calls=len(prompts),
                input_tokens=sum(counts),
                max_output_tokens=out_cap,
                usd=usd,
                priced=usd is not None,
                basis=basis,
                price_as_of=as_of,
                local=local,
            )
        )
    return CostEstimate(rows)


def estimate_run_cost(
    catalog: Catalog,
    model_refs: Sequence[str],
    prompts: Sequence[tuple[str | None, str]],
    max_tokens: int,
    repeats: int = 1,
    day: dt.date | None = None,
) -> CostEstimate:
    """Upper-bound cost of sending every (system, prompt) to every model `repeats` times.

    >>> from bakeoff.catalog.config import CatalogEntry, PriceRow
    >>> cat = Catalog(entries={"m": CatalogEntry(provider="openai", model="gpt-4o", kind="commercial")},
    ...               prices={"m": [PriceRow(as_of="2024-01-01", source="s", input=1, output=2)]})
    >>> est = estimate_run_cost(cat, ["m"], [(None, "hello world")], max_tokens=100, repeats=3)
    >>> est.rows[0].input_tokens, est.total_usd  # 3 × (2 × $1 + 100 × $2) / 1M
    (6, Decimal('0.000606'))
    """
    cells = [(ref, s, p) for ref in model_refs for s, p in prompts for _ in range(repeats)]
    est = estimate_cells(catalog, cells, max_tokens, day)
    listed = {r.model_ref for r in est.rows}
    missing = [ModelEstimate(ref, 0, 0, 0, Decimal(0), True, "no calls") for ref in model_refs if ref not in listed]
    return CostEstimate(est.rows + missing) if missing else est


def check_budget(estimate: CostEstimate, cap_usd: Decimal | None) -> str | None:
    """Why a run must not start under this cap, or None when it may.

    Local-compute models do not block a cap (their busy seconds are counted while running, and a
    batch stops once the actual cost reaches the cap); an unpriced API model does, since nothing
    bounds what it will bill.
    """
    if cap_usd is None:
        return None
    if estimate.unpriced:
        unpriced = list(dict.fromkeys(estimate.unpriced))
        names, verb = ", ".join(unpriced), "has" if len(unpriced) == 1 else "have"
        return (
            f"Cannot keep this run under the ${cap_usd} cap: {names} {verb} "
            "no price in pricing.yaml, so what it bills cannot be bounded. Add a dated price row, remove the "
            "model, or run without a budget cap."
        )
    total = estimate.total_usd
    if total is not None and total > cap_usd:
        return (
            f"The estimate is up to {format_usd(total)}, above the ${cap_usd} cap (every answer at max tokens). "
            "Lower max tokens or repeats, drop prompts or models, or raise the cap."
        )
    return None
