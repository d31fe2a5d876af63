"""The one path both the CLI and the dashboard take: validate, resolve, save, fan out, save."""

from __future__ import annotations

import asyncio
import threading

from bakeoff.config import Catalog, UnknownModel, resolve
from bakeoff.records import Result, Run
from bakeoff.run import InvalidRun, OnUpdate, RetryPolicy, fan_out, new_result, validate
from bakeoff.store import Store
from providers.base import ModelSpec


def prepare(run: Run, catalog: Catalog) -> list[ModelSpec]:
    """Check the input and resolve every model reference, or raise InvalidRun naming the problem."""
    validate(run)
    seen: set[str] = set()
    for ref in run.model_refs:
        if ref in seen:
            raise InvalidRun(f"{ref} is selected twice; use repeats to run a model more than once.")
        seen.add(ref)
    specs = []
    for ref in run.model_refs:
        try:
            specs.append(resolve(catalog, ref))
        except UnknownModel as exc:
            raise InvalidRun(str(exc)) from None
    return specs


async def execute(
    run: Run,
    specs: list[ModelSpec],
    catalog: Catalog,
    store: Store | None,
    *,
    results: list[Result] | None = None,
    on_update: OnUpdate | None = None,
    cancel: threading.Event | None = None,
    policy: RetryPolicy = RetryPolicy(),
) -> list[Result]:
    """Save the run first, each result as it lands, and the run's final status last."""
    results = (
        results if results is not None else [new_result(run, r, s) for r, s in zip(run.model_refs, specs, strict=False)]
    )
    if store is not None:
        await asyncio.to_thread(store.save_run, run)
    out = await fan_out(
        run,
        specs,
        catalog,
        on_update=on_update,
        cancel=cancel,
        policy=policy,
        results=results,
        on_finish=store.save_result if store is not None else None,
    )
    run.status = "cancelled" if cancel is not None and cancel.is_set() else "done"
    if store is not None:
        await asyncio.to_thread(store.set_run_status, run.run_id, run.status)
    return out


def run_blocking(run: Run, catalog: Catalog, store: Store | None, **kwargs) -> list[Result]:
    specs = prepare(run, catalog)
    return asyncio.run(execute(run, specs, catalog, store, **kwargs))
