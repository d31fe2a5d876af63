"""Repeats: the same comparison run N times, one after another, to see how much the figures vary.

Each repeat is an ordinary run job (saved, listed in History); they run in sequence, not at once, so a
repeat never queues behind another repeat of the same model and every timing is taken alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bakeoff.catalog.config import Catalog
from bakeoff.jobs.registry import Job, Jobs
from bakeoff.jobs.runs import RunJob, start_run
from bakeoff.records import Run, new_id
from bakeoff.runner.fan_out import InvalidRun
from bakeoff.store.store import Store

MAX_REPEATS = 20


@dataclass(kw_only=True, eq=False)
class RepeatSeries(Job):
    total: int
    key: str = field(default_factory=new_id)
    run_ids: list[str] = field(default_factory=list)  # the repeats started so far, in order

    def started(self) -> list[str]:
        with self.lock:
            return list(self.run_ids)

    def _add(self, run_id: str) -> None:
        with self.lock:
            self.run_ids.append(run_id)


def start_repeats(
    jobs: Jobs, make_run: Callable[[], Run], total: int, catalog: Catalog, store: Store | None
) -> RepeatSeries:
    """Start the first repeat now (raises InvalidRun like start_run), the rest in turn on the engine loop.

    Every repeat shares the series' cancel switch: stopping the series stops the repeat in flight.
    """
    if not 1 <= total <= MAX_REPEATS:
        raise InvalidRun(f"Repeats must be between 1 and {MAX_REPEATS} (got {total}).")
    series = RepeatSeries(total=total)
    first = start_run(jobs, make_run(), catalog, store, cancel=series.cancel)
    series._add(first.run.run_id)
    return jobs.start(series, lambda s: _work(s, first, make_run, jobs, catalog, store))


async def _work(
    series: RepeatSeries, first: RunJob, make_run: Callable[[], Run], jobs: Jobs, catalog: Catalog, store: Store | None
) -> None:
    current = first
    while True:
        await current.wait()
        if series.cancel.is_set() or len(series.started()) >= series.total:
            return
        current = start_run(jobs, make_run(), catalog, store, cancel=series.cancel)
        series._add(current.run.run_id)
