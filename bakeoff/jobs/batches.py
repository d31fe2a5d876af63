"""A batch as a background job: the page polls a copy of its progress; results are read back from the store.

Each cell is saved as it lands, so a page reload or another session sees the same batch. `stop` starts no
new cell and lets the calls in flight finish (saved with their cost); `cancel` also aborts those calls.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from bakeoff.batch.runner import BatchOutcome, BatchRefused, Progress, estimate_batch, prepare_batch, run_batch
from bakeoff.batch.store import Batch, batch_results
from bakeoff.catalog.config import Catalog
from bakeoff.catalog.estimate import check_budget
from bakeoff.jobs.registry import Job, Jobs
from bakeoff.store.store import Store


@dataclass(kw_only=True, eq=False)
class BatchJob(Job):
    batch: Batch
    progress: Progress
    stop: threading.Event = field(default_factory=threading.Event)
    outcome: BatchOutcome | None = None

    def publish(self, p: Progress) -> None:
        with self.lock:
            self.progress = p

    def snapshot(self) -> Progress:
        with self.lock:
            return dataclasses.replace(self.progress)


def start_batch(jobs: Jobs, batch: Batch, catalog: Catalog, store: Store) -> BatchJob:
    """Check settings and budget here (raises BatchRefused), then run on the engine loop."""
    prepare_batch(batch, catalog)
    previous = batch_results(store, batch.batch_id)
    done = {r.cell_key for r in previous if r.status == "ok"}
    if batch.budget_usd is not None:
        spent = sum((r.cost_usd for r in previous if r.cost_usd is not None), Decimal(0))
        message = check_budget(estimate_batch(batch, catalog, skip=done), batch.budget_usd - spent)
        if message is not None:
            raise BatchRefused(message)
    total = len(batch.items) * len(batch.model_refs) * batch.repeats
    job = BatchJob(
        key=batch.batch_id, batch=batch, progress=Progress(total=total, done=len(done), ok=len(done), cached=len(done))
    )

    async def work(j: BatchJob) -> None:
        try:
            j.outcome = await run_batch(
                j.batch, catalog, store, stop=j.stop, cancel=j.cancel, on_progress=j.publish
            )
        except BatchRefused as exc:  # refused once running (the budget, after the store was read again)
            j.failure = str(exc)

    return jobs.start(job, work, one_at_a_time="per key", refusal=BatchRefused("This batch is already running."))
