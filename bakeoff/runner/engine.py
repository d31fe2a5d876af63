"""The one path both the CLI and the dashboard take: validate, resolve, save, fan out, save."""

from __future__ import annotations

import asyncio
import logging
import threading

from bakeoff.catalog.config import Catalog, UnknownModel, resolve
from bakeoff.records import Result, Run
from bakeoff.runner.fan_out import InvalidRun, OnUpdate, RetryPolicy, fan_out, new_result, validate
from bakeoff.runner.scoring import score_results
from bakeoff.store.store import Store
from providers.base import ModelSpec

log = logging.getLogger(__name__)

RUN_STATUS = "run status"  # the key in Run.unsaved when the run's final status could not be written


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
    """Save the run first, each result as it lands, then its quality scores, and the run's final status last."""
    results = (
        results if results is not None else [new_result(run, r, s) for r, s in zip(run.model_refs, specs, strict=False)]
    )
    if store is not None:
        await asyncio.to_thread(store.save_run, run)
    try:
        out = await fan_out(
            run,
            specs,
            catalog,
            on_update=on_update,
            cancel=cancel,
            policy=policy,
            results=results,
            on_finish=(lambda res: _save(run, store, res, "answer")) if store is not None else None,
        )
    except BaseException:  # the run cannot finish: say so now rather than leave it `running` in this live process
        run.status = "interrupted"
        if store is not None:
            try:
                store.set_run_status(run.run_id, run.status)
            except Exception:
                log.exception("could not mark run %s interrupted", run.run_id)
        raise
    await _score(run, out, store, on_update)
    run.status = "cancelled" if cancel is not None and cancel.is_set() else "done"
    if run.unsaved:
        run.status = "unsaved"
    if store is not None:
        try:
            await asyncio.to_thread(store.set_run_status, run.run_id, run.status)
        except Exception as exc:
            log.error("could not save the status of run %s: %s", run.run_id, exc)
            run.unsaved[RUN_STATUS] = f"'{run.status}' ({_kind(exc)})"
            run.status = "unsaved"
    return out


def _save(run: Run, store: Store, res: Result, what: str) -> None:
    """Save one result; a failure is listed on the run (never lost silently), a later successful save clears it."""
    try:
        store.save_result(res)
    except Exception as exc:
        log.error("could not save the %s of %s in run %s: %s", what, res.model_ref, run.run_id, exc)
        run.unsaved.setdefault(res.model_ref, f"{what} ({_kind(exc)})")
    else:
        run.unsaved.pop(res.model_ref, None)


def _kind(exc: Exception) -> str:
    """The failure's class, the database driver's own when SQLAlchemy wraps it; its message may name the server."""
    return type(getattr(exc, "orig", None) or exc).__name__


def unsaved_message(run: Run) -> str:
    """What of a run is missing from the store, for the CLI and the dashboard; "" when everything was saved."""
    if not run.unsaved:
        return ""
    missing = "; ".join(f"{ref} — {what}" for ref, what in dict(run.unsaved).items())
    return f"Not saved to the store, so missing from History: {missing}. The log has the cause."


async def _score(run: Run, results: list[Result], store: Store | None, on_update: OnUpdate | None) -> None:
    """Quality scores for the finished answers (off the event loop: embedding takes CPU), then save them."""
    try:
        await asyncio.to_thread(score_results, run, results)
    except Exception:  # score_results never raises; this guards the run against a bug there
        log.exception("scoring run %s failed", run.run_id)
        return
    for res in results:
        if res.status != "ok":
            continue
        if on_update is not None:
            on_update(res)
        if store is not None:
            await asyncio.to_thread(_save, run, store, res, "scores")


def run_blocking(run: Run, catalog: Catalog, store: Store | None, **kwargs) -> list[Result]:
    specs = prepare(run, catalog)
    return asyncio.run(execute(run, specs, catalog, store, **kwargs))
