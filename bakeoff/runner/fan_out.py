"""fan_out: one task per model, all concurrent, each isolated and timed the same way.

The runner, not the provider, owns timing, retries, timeouts and cancellation, so every model is
measured and treated alike. Failures become data on the Result; nothing raised by one model can
reach another model's task. The job is split by step: validation (refuse a run up front), preflight
(refuse one model before sending), attempts (the call and its retry policy), finalize (figures and
price). This module is the runner's front door: callers import what they need from here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

from bakeoff.catalog.config import Catalog
from bakeoff.records import Params, Result, Run
from bakeoff.runner.attempts import OnUpdate, RetryPolicy, run_one
from bakeoff.runner.finalize import finalize
from bakeoff.runner.limits import MAX_CONCURRENT_CALLS, call_gate, shared_limiters
from bakeoff.runner.rate_limit import Limiters
from bakeoff.runner.validation import InvalidRun, validate
from providers import registry
from providers.base import ModelSpec, Request

__all__ = [
    "MAX_CONCURRENT_CALLS",
    "InvalidRun",
    "OnUpdate",
    "RetryPolicy",
    "fan_out",
    "new_result",
    "to_request",
    "validate",
]

log = logging.getLogger(__name__)

def to_request(run: Run, model_ref: str | None = None) -> Request:
    """The call for one model: the run's prompt and settings, after that model's own thread so far."""
    p: Params = run.params
    return Request(
        prompt=run.prompt,
        system=p.system or None,
        history=tuple(run.history.get(model_ref, ())) if model_ref is not None else (),
        max_tokens=p.max_tokens,
        temperature=p.temperature,
        top_p=p.top_p,
        seed=p.seed,
        timeout_s=p.timeout_s,
    )


def new_result(run: Run, ref: str, spec: ModelSpec) -> Result:
    return Result(
        run_id=run.run_id,
        model_ref=ref,
        provider=spec.provider,
        model=spec.model,
        kind=spec.kind,
        precision=spec.precision,
    )


async def fan_out(
    run: Run,
    specs: Sequence[ModelSpec],
    catalog: Catalog,
    *,
    on_update: OnUpdate | None = None,
    on_finish: OnUpdate | None = None,
    cancel: threading.Event | None = None,
    policy: RetryPolicy = RetryPolicy(),
    results: Sequence[Result] | None = None,
    limiters: Limiters | None = None,
) -> list[Result]:
    """Run every model concurrently; return one Result per spec, in order, whatever happened.

    Calls in flight and rate limits are the event loop's (bakeoff/runner/limits.py), shared with every other
    job on it; `limiters` replaces the rate limiters only.
    """
    day = run.created_at.date()
    results = (
        list(results)
        if results is not None
        else [new_result(run, r, s) for r, s in zip(run.model_refs, specs, strict=False)]
    )
    notify = on_update or (lambda _r: None)

    gate = call_gate()
    limiters = shared_limiters(catalog, specs) if limiters is None else limiters

    async def one(spec: ModelSpec, res: Result) -> None:
        req = to_request(run, res.model_ref)
        await run_one(spec, req, res, policy, notify, limiters.get(spec.id), gate)
        finalize(res, spec, req, catalog, day)
        notify(res)
        if on_finish is not None:
            try:
                on_finish(res)
            except Exception:  # a storage hiccup must not cost the other answers
                log.exception("could not save result %s", res.result_id)

    if results:  # SDK imports and clients first, not billed as any model's queue time (settings are per run)
        await registry.warm_up(specs, to_request(run, results[0].model_ref))
    tasks = [asyncio.create_task(one(s, r), name=r.model_ref) for s, r in zip(specs, results, strict=True)]
    watcher = asyncio.create_task(_watch_cancel(cancel, tasks)) if cancel is not None else None
    try:
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if watcher is not None:
            watcher.cancel()
    return results


async def _watch_cancel(cancel: threading.Event, tasks: list[asyncio.Task]) -> None:
    while not cancel.is_set():
        await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
