"""Model-selection rules: a user's needs in, a ranked shortlist out, with the rule behind every verdict.

Pure (no Streamlit, no I/O): the Advisor page gathers the needs, the catalog and the measured
history, and shows what `advise` returns. Hard rules (privacy, offline, fine-tuning, budget,
latency, context, and readiness when asked for) exclude a model and say which rule did; soft ones
only rank: task tag, chat vs base model, capability (bakeoff/catalog/capability.py: the sourced size
or the vendor's tier, never a benchmark), then measured speed and price. Readiness is a filter and a
marker, never a rank: the strongest model for the task may need a key first, and the user should
see it. A rule that cannot be checked (no price, no measurement) says so instead of guessing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from bakeoff.catalog.capability import Capability, capability, strength_order
from bakeoff.catalog.config import Catalog, CatalogEntry
from bakeoff.store.model_stats import Key, MeasuredStats, stats_for_entry

BudgetKind = Literal["none", "per_million", "monthly"]
IN_PROCESS = {"transformers", "llamacpp"}  # providers that run inside this process, from weights on disk


@dataclass(frozen=True)
class Needs:
    """What the user asked for. None / False = no constraint."""

    task: str | None = None  # a best_for tag from models.yaml
    budget: BudgetKind = "none"
    max_usd_per_million: float | None = None  # blended over the workload's input:output mix
    monthly_budget_usd: float | None = None
    requests_per_month: int = 10_000
    input_tokens: int = 1_000  # per request
    output_tokens: int = 300  # per request
    data_stays_local: bool = False
    offline: bool = False
    max_ttft_s: float | None = None
    fine_tune: bool = False
    min_context: int | None = None  # tokens
    ready_only: bool = False
    shortlist_size: int = 5


@dataclass(frozen=True)
class Reason:
    rule: str  # task, privacy, offline, fine-tuning, budget, latency, context, readiness, chat, catalog, rank
    text: str
    passed: bool | None  # True = satisfies the rule, False = fails it (excluded), None = could not be checked


@dataclass
class Verdict:
    model_id: str
    label: str
    reasons: list[Reason] = field(default_factory=list)
    task_match: bool = False
    latency_measured_ok: bool = False
    est_usd_per_million: float | None = None  # blended; local = hardware $/h over measured speed, if known
    est_monthly_usd: float | None = None
    median_ttft_s: float | None = None
    median_tokens_per_s: float | None = None
    ready: bool | None = None  # can run here now (key set, server up, weights on disk); None = unknown
    ready_detail: str = ""  # when not ready: what to do (set a key, start a server)
    chat: bool = True  # False: a base model that completes text instead of following instructions
    capability: Capability | None = None
    strength: tuple[bool, int] = (False, 0)  # capability.strength_order: lower is stronger
    rank: int | None = None

    @property
    def excluded(self) -> bool:
        return any(r.passed is False for r in self.reasons)

    @property
    def failed(self) -> list[Reason]:
        return [r for r in self.reasons if r.passed is False]


@dataclass(frozen=True)
class Advice:
    shortlist: list[Verdict]  # ranked, at most needs.shortlist_size
    also_eligible: list[Verdict]  # passed every rule, ranked below the shortlist
    excluded: list[Verdict]  # failed at least one rule, each saying which

    @property
    def shortlist_ids(self) -> list[str]:
        return [v.model_id for v in self.shortlist]


def _usd(x: float) -> str:
    return f"${x:,.2f}" if x >= 0.01 or x == 0 else f"${x:.4f}"


def _blended(entry_price_in: Decimal, entry_price_out: Decimal, needs: Needs) -> float:
    tokens = needs.input_tokens + needs.output_tokens
    if tokens <= 0:
        return float(entry_price_out)
    return float(entry_price_in * needs.input_tokens + entry_price_out * needs.output_tokens) / tokens


def _cost_rule(
    v: Verdict, model_id: str, e: CatalogEntry, s: MeasuredStats | None, cat: Catalog, needs: Needs, today: dt.date
) -> None:
    """Estimate $/1M (blended) and $/month; check the budget when one is set."""
    mix = f"{needs.input_tokens:,} in : {needs.output_tokens:,} out tokens per request"
    price = cat.price_on(model_id, today)
    basis = ""
    if price is not None:
        v.est_usd_per_million = _blended(price.input, price.output, needs)
        basis = f"API price as of {price.as_of} (${price.input}/${price.output} per 1M in/out)"
    elif e.kind == "local":
        rate = cat.local_compute.usd_per_hour
        tok_s = s.median_tokens_per_s if s else None
        if rate is not None and tok_s:
            # busy time is dominated by generation: hardware $/s over measured output tok/s, per output token
            per_output = float(rate) / 3600 / tok_s * 1_000_000
            tokens = needs.input_tokens + needs.output_tokens
            v.est_usd_per_million = per_output * needs.output_tokens / tokens if tokens else per_output
            basis = f"hardware ${rate}/h at the measured {tok_s:.1f} tok/s"
    if v.est_usd_per_million is not None:
        v.est_monthly_usd = v.est_usd_per_million * (needs.input_tokens + needs.output_tokens) \
            * needs.requests_per_month / 1_000_000

    if needs.budget == "none":
        return
    if v.est_usd_per_million is None:
        if e.kind == "local":
            v.reasons.append(Reason("budget", "runs on your own hardware: no per-token bill (no measured speed yet "
                                    "to turn hardware $/hour into $ per token; run it on Compare)", None))
        else:
            v.reasons.append(Reason("budget", "no price in pricing.yaml, so it cannot be shown to fit the budget",
                                    False))
        return
    if needs.budget == "per_million" and needs.max_usd_per_million is not None:
        ok = v.est_usd_per_million <= needs.max_usd_per_million
        verb = "within" if ok else "over"
        v.reasons.append(Reason("budget", f"{_usd(v.est_usd_per_million)} per 1M tokens blended ({mix}) is {verb} "
                                f"your {_usd(needs.max_usd_per_million)}; {basis}", ok))
    elif needs.budget == "monthly" and needs.monthly_budget_usd is not None and v.est_monthly_usd is not None:
        ok = v.est_monthly_usd <= needs.monthly_budget_usd
        verb = "within" if ok else "over"
        v.reasons.append(Reason("budget", f"about {_usd(v.est_monthly_usd)}/month for {needs.requests_per_month:,} "
                                f"requests ({mix}) is {verb} your {_usd(needs.monthly_budget_usd)}; {basis}", ok))


def _latency_rule(v: Verdict, s: MeasuredStats | None, needs: Needs) -> None:
    if needs.max_ttft_s is None:
        return
    if s is None or s.median_ttft_s is None:
        v.reasons.append(Reason("latency", f"no measured TTFT yet, so the {needs.max_ttft_s:g} s target is unchecked "
                                "(run it on Compare to measure)", None))
        return
    ok = s.median_ttft_s <= needs.max_ttft_s
    v.latency_measured_ok = ok
    v.reasons.append(Reason("latency", f"measured median TTFT {s.median_ttft_s:.2f} s over {s.answers} answer"
                            f"{'s' if s.answers != 1 else ''} is {'within' if ok else 'over'} your "
                            f"{needs.max_ttft_s:g} s target", ok))


def _verdict(
    model_id: str,
    e: CatalogEntry,
    s: MeasuredStats | None,
    cat: Catalog,
    needs: Needs,
    today: dt.date,
    ready: Mapping[str, tuple[bool, str]] | None,
) -> Verdict:
    v = Verdict(model_id, e.label or model_id, capability=capability(e), strength=strength_order(e))
    if s is not None:
        v.median_ttft_s, v.median_tokens_per_s = s.median_ttft_s, s.median_tokens_per_s
    if not e.active:
        v.reasons.append(Reason("catalog", "retired (active: false in models.yaml): kept only for old runs", False))
    local = e.kind == "local"
    if needs.data_stays_local:
        v.reasons.append(Reason("privacy", "runs on your machine or your own server: prompts stay with you" if local
                                else f"a hosted API ({e.provider}): prompts leave your network", local))
    if needs.offline:
        if local and e.provider in IN_PROCESS:
            text = "runs in-process from weights on disk: works with no network at all"
        elif local:
            text = f"runs on your own {e.provider} server: works offline once the weights are pulled"
        else:
            text = f"needs the internet to reach {e.provider}'s API"
        v.reasons.append(Reason("offline", text, local))
    if needs.fine_tune:
        licence = f" (licence: {e.license})" if e.license else " (licence unknown: check it before fine-tuning)"
        v.reasons.append(Reason("fine-tuning", "open weights: you can fine-tune it yourself" + licence
                                if e.open_weights else "closed weights: you cannot fine-tune it yourself",
                                e.open_weights))
    if needs.min_context:
        if e.context_window is None:
            v.reasons.append(Reason("context", "context window unknown (no sourced figure)", None))
        else:
            ok = e.context_window >= needs.min_context
            v.reasons.append(Reason("context", f"context window {e.context_window:,} tokens "
                                    f"{'≥' if ok else '<'} the {needs.min_context:,} you need", ok))
    _cost_rule(v, model_id, e, s, cat, needs, today)
    _latency_rule(v, s, needs)
    if not e.chat_template:
        v.chat = False
        v.reasons.append(Reason("chat", "base model (no chat template): it continues text rather than following "
                                "instructions, so it ranks after chat models", None))
    if needs.task:
        v.task_match = needs.task in e.best_for
        if v.task_match:
            v.reasons.append(Reason("task", f"models.yaml lists it as good for “{needs.task}”", True))
        else:
            v.reasons.append(Reason("task", f"not tagged for “{needs.task}” (ranked after models that are)", None))
    if ready is not None and model_id in ready:
        ok, detail = ready[model_id]
        v.ready, v.ready_detail = ok, "" if ok else detail
        if not ok:
            v.reasons.append(Reason("readiness", f"not ready here: {detail}", False if needs.ready_only else None))
        else:
            v.reasons.append(Reason("readiness", "ready to run here", True))
    return v


def _rank_key(v: Verdict) -> tuple:
    cost = v.est_usd_per_million if v.est_usd_per_million is not None else float("inf")
    ttft = v.median_ttft_s if v.median_ttft_s is not None else float("inf")
    return (not v.task_match, v.strength, not v.latency_measured_ok, cost, ttft, v.label.casefold())


# shown once above the shortlist, not on every card
RANK_ORDER = ("task match, chat before base models, capability (strongest first; unknown before tiny), then measured "
              "latency and estimated cost (cheapest first); readiness filters, it does not rank")


def _rank_reason(v: Verdict, position: int, needs: Needs) -> Reason:
    why = []
    if needs.task and v.task_match:
        why.append(f"tagged for “{needs.task}”")
    if v.capability is not None:
        why.append(v.capability.describe())
    if not v.chat:
        why.append("base model")
    if v.latency_measured_ok:
        why.append("meets the latency target by measurement")
    if v.est_usd_per_million is not None:
        why.append(f"~{_usd(v.est_usd_per_million)} per 1M tokens blended")
    elif v.median_ttft_s is not None:
        why.append(f"median TTFT {v.median_ttft_s:.2f} s")
    if v.ready is not None:
        why.append("ready to run here" if v.ready else "not ready here yet")
    return Reason("rank", f"#{position}: " + ", ".join(why), True)


def advise(
    cat: Catalog,
    needs: Needs,
    stats: dict[Key, MeasuredStats] | None = None,
    *,
    today: dt.date | None = None,
    ready: Mapping[str, tuple[bool, str]] | None = None,
) -> Advice:
    """Apply every rule to every catalog entry; rank the survivors.

    ready: model id -> (ready to run here?, why not). Missing = unknown, never held against a model.
    """
    today = today or dt.date.today()
    stats = stats or {}
    verdicts = [
        _verdict(model_id, e, stats_for_entry(stats, e.provider, e.model, e.default_precision), cat, needs, today,
                 ready)
        for model_id, e in cat.entries.items()
    ]
    eligible = sorted((v for v in verdicts if not v.excluded), key=_rank_key)
    for i, v in enumerate(eligible, start=1):
        v.rank = i
        v.reasons.insert(0, _rank_reason(v, i, needs))
    excluded = sorted(  # retired models last: they are rarely what the user is weighing
        (v for v in verdicts if v.excluded),
        key=lambda v: (any(r.rule == "catalog" for r in v.failed), len(v.failed), v.label.casefold()),
    )
    size = max(1, needs.shortlist_size)
    return Advice(shortlist=eligible[:size], also_eligible=eligible[size:], excluded=excluded)


@dataclass(frozen=True)
class Handoff:
    """What "Compare these" may select: only the shortlist's models that can run here, and what the rest need."""

    model_ids: list[str]  # ready here, in rank order
    to_configure: dict[str, list[str]]  # what to do (set a key, start a server) -> labels of the models it unlocks
    shortlisted: int

    @property
    def enough(self) -> bool:
        """Two runnable models to compare (or the whole shortlist, when it holds one model)."""
        return len(self.model_ids) >= min(2, self.shortlisted) > 0


def compare_handoff(advice: Advice) -> Handoff:
    """Split the shortlist into runnable models and, grouped by the fix, the ones that need configuring first."""
    runnable: list[str] = []
    blocked: dict[str, list[str]] = {}
    for v in advice.shortlist:
        if v.ready:
            runnable.append(v.model_id)
        else:
            blocked.setdefault(v.ready_detail or "readiness unknown", []).append(v.label)
    return Handoff(runnable, blocked, len(advice.shortlist))
