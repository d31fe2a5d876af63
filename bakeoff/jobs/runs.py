"""A comparison run as a background job: the page polls a copy of each model's result as it streams."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from bakeoff.catalog.config import Catalog
from bakeoff.jobs.registry import Job, Jobs
from bakeoff.records import Result, Run
from bakeoff.runner.engine import execute, prepare
from bakeoff.runner.fan_out import new_result
from bakeoff.store.store import Store
from providers.base import ModelSpec


@dataclass(kw_only=True, eq=False)
class RunJob(Job):
    run: Run
    specs: list[ModelSpec]
    results: list[Result]  # owned by the engine loop
    view: dict[str, Result] = field(default_factory=dict)  # result_id -> copy, read by pages

    def publish(self, res: Result) -> None:
        copy = res.snapshot()  # taken on the loop, so it is consistent
        with self.lock:
            self.view[res.result_id] = copy

    def snapshot(self) -> list[Result]:
        with self.lock:
            return [self.view[r.result_id] for r in self.results]


def start_run(
    jobs: Jobs, run: Run, catalog: Catalog, store: Store | None, *, cancel: threading.Event | None = None
) -> RunJob:
    """Validate here (raises InvalidRun), then run on the engine loop. `cancel`: a switch shared with a series."""
    specs = prepare(run, catalog)
    job = RunJob(
        key=run.run_id,
        run=run,
        specs=specs,
        results=[new_result(run, ref, spec) for ref, spec in zip(run.model_refs, specs, strict=False)],
        cancel=cancel or threading.Event(),
    )
    for res in job.results:
        job.publish(res)
    return jobs.start(job, lambda j: _work(j, catalog, store))


async def _work(job: RunJob, catalog: Catalog, store: Store | None) -> None:
    try:
        await execute(
            job.run, job.specs, catalog, store, results=job.results, on_update=job.publish, cancel=job.cancel
        )
    finally:
        for res in job.results:
            job.publish(res)
