"""A finished call's figures: timings from its stamps, usage (estimated where unreported, and marked), its price."""

from __future__ import annotations

import datetime as dt

from bakeoff.catalog import secrets
from bakeoff.catalog.config import Catalog
from bakeoff.records import Result
from bakeoff.runner.preflight import prompt_text
from metrics import cost as cost_metrics
from metrics import latency
from metrics.tokens import estimate_tokens
from providers.base import ModelSpec, Request


def finalize(res: Result, spec: ModelSpec, req: Request, catalog: Catalog, day: dt.date) -> Result:
    """Derive timings, fill missing usage with marked estimates, price the call; scrub echoed keys."""
    key_envs = [spec.api_key_env, *(e.api_key_env for e in catalog.entries.values())]
    res.output = secrets.scrub(res.output, key_envs)  # a server echoing a key into its answer
    if res.error is not None:
        res.error.message = secrets.scrub_message(res.error.message, key_envs)
    if res.sent_ns is not None and res.queued_ns is not None:
        res.queue_s = (res.sent_ns - res.queued_ns) / latency.NS
    res.ttft_s = latency.ttft_s(res.sent_ns, res.first_token_ns)
    res.e2e_s = latency.e2e_s(res.sent_ns, res.last_token_ns)
    # Estimate only what the model processed: a request refused before any text (401, 429, ...)
    # reported no usage and was not billed, so it stays unknown rather than getting a made-up cost.
    answered = res.status == "ok" or res.first_token_ns is not None or res.tokens_source is not None
    if (
        answered
        and res.sent_ns is not None
        and (res.input_tokens is None or (res.output_tokens is None and res.output))
    ):
        if res.input_tokens is None:
            res.input_tokens = estimate_tokens(prompt_text(req), spec.model)
        if res.output_tokens is None:
            res.output_tokens = estimate_tokens(res.output, spec.model)
        res.tokens_source = "estimated"
    res.tpot_s = latency.tpot_s(res.ttft_s, res.e2e_s, res.output_tokens)
    res.output_tokens_per_s = latency.output_tokens_per_s(res.e2e_s, res.output_tokens)
    _price(res, spec, catalog, day)
    return res


def _price(res: Result, spec: ModelSpec, catalog: Catalog, day: dt.date) -> None:
    if res.sent_ns is None:
        return  # never sent: nothing billed
    row = catalog.price_on(spec.id, day)
    if row is not None:
        rates = row.rates(res.input_tokens)
        res.cost_usd = cost_metrics.api_cost(
            res.input_tokens,
            res.output_tokens,
            input_per_m=rates.input,
            output_per_m=rates.output,
            cached_input_tokens=res.cached_input_tokens,
            cached_input_per_m=rates.cached_input,
            reasoning_tokens=res.reasoning_tokens,
            reasoning_per_m=rates.reasoning,
        )
        if res.cost_usd is not None:  # None: usage unknown (a refused request is not billed)
            res.cost_basis = "api price, long-context tier" if rates.long_context else "api price"
            res.price_as_of = row.as_of
    elif spec.kind == "local":
        end = res.last_token_ns or res.closed_ns
        busy = (end - res.sent_ns) / latency.NS if end else None
        res.cost_usd = cost_metrics.local_compute_cost(busy, catalog.local_compute.usd_per_hour)
        if res.cost_usd is not None:
            res.cost_basis, res.price_as_of = "local compute", catalog.local_compute.as_of
