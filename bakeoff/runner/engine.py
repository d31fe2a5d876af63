"""The one path both the CLI and the dashboard take: validate, resolve, save, fan out, save, score."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from bakeoff.catalog.config import Catalog, UnknownModel, resolve
from bakeoff.records import Result, Run
from bakeoff.runner import scoring
from bakeoff.runner.fan_out import InvalidRun, OnUpdate, RetryPolicy, fan_out, new_result, validate
from bakeoff.runner.loop import engine
from bakeoff.runner.store_writes import write
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
    on_answers: Callable[[list[Result]], None] | None = None,
) -> list[Result]:
    """Save the run, each result as it lands and the run's status, then score the answers and save the scores.

    Every save goes to the store's writer thread (bakeoff/runner/store_writes.py), in order, so none stalls the
    models still streaming. Scores come last, so no answer and no status waits for the embedder; when the run
    will want it, it starts loading in the background as soon as every request is out, overlapping the calls.
    `on_answers(results)` is called once the answers are in and saved, before scoring (the CLI prints them).
    """
    results = (
        results if results is not None else [new_result(run, r, s) for r, s in zip(run.model_refs, specs, strict=False)]
    )
    if scoring.wants_embedder(run, len(specs)):
        on_update = _warm_once_sent(results, on_update)
    if store is not None:
        await write(store.save_run, run)
    saves: list[asyncio.Future[None]] = []

    def on_finish(res: Result) -> None:
        saves.append(write(_save, run, store, res, "answer"))

    try:
        out = await fan_out(
            run,
            specs,
            catalog,
            on_update=on_update,
            cancel=cancel,
            policy=policy,
            results=results,
            on_finish=on_finish if store is not None else None,
        )
        await asyncio.gather(*saves)
    except BaseException:  # the run cannot finish: say so now rather than leave it `running` in this live process
        run.status = "interrupted"
        if store is not None:
            try:
                store.set_run_status(run.run_id, run.status)
            except Exception:
                log.exception("could not mark run %s interrupted", run.run_id)
        raise
    stopped = cancel is not None and cancel.is_set()
    await _close(run, store, stopped)  # the answers are in and saved: History shows the run finished
    if on_answers is not None:
        on_answers(out)
    await _score(run, out, store, on_update)
    if _status(run, stopped) != run.status:  # a score save failed, or saved what an answer save had not
        await _close(run, store, stopped)
    return out


def _warm_once_sent(results: list[Result], on_update: OnUpdate | None) -> OnUpdate:
    """on_update that also starts loading the embedder once every request is out (or its model done).

    Not before: building requests and importing SDKs is CPU work the load would slow down on a small
    machine; from then on the calls mostly wait on the network, and the load overlaps that wait.
    """
    pending = [True]

    def update(res: Result) -> None:
        if pending[0] and all(r.sent_ns is not None or r.done for r in results):
            pending[0] = False
            scoring.EMBEDDER.warm()
        if on_update is not None:
            on_update(res)

    return update


def _status(run: Run, stopped: bool) -> str:
    if run.unsaved:
        return "unsaved"
    return "cancelled" if stopped else "done"


async def _close(run: Run, store: Store | None, stopped: bool) -> None:
    """Set and save the run's status; a failure to save it is listed on the run like a lost answer."""
    run.status = _status(run, stopped)
    if store is None:
        return
    try:
        await write(store.set_run_status, run.run_id, run.status)
    except Exception as exc:
        log.error("could not save the status of run %s: %s", run.run_id, exc)
        run.unsaved[RUN_STATUS] = f"'{run.status}' ({_kind(exc)})"
        run.status = "unsaved"


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
        await asyncio.to_thread(scoring.score_results, run, results)
    except Exception:  # score_results never raises; this guards the run against a bug there
        log.exception("scoring run %s failed", run.run_id)
        return
    saves = []
    for res in results:
        if res.status != "ok":
            continue
        if on_update is not None:
            on_update(res)
        if store is not None:
            saves.append(write(_save, run, store, res, "scores"))
    await asyncio.gather(*saves)


def run_blocking(run: Run, catalog: Catalog, store: Store | None, **kwargs) -> list[Result]:
    """Validate here (raises InvalidRun), then run on the process's engine loop and wait for the results."""
    specs = prepare(run, catalog)
    return engine().run(execute(run, specs, catalog, store, **kwargs))
