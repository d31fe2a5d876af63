"""Batch evaluation: every prompt × model × repeat, at each provider's rate limit, resumable, under a budget.

Each cell (one call, bakeoff/batch/cells.py) is saved the moment it lands (Store.save_result), so a
stopped or crashed batch resumes without re-running, or re-billing, any cell that finished ok;
those come back marked `cached`. Cells that failed are run again on resume, overwriting their row.

Concurrency is bounded by the batch (a pool of workers), by the event loop's cap of calls in flight and per
provider budget (bakeoff/runner/limits.py and rate_limit.py, limits from models.yaml, shared with every other
job on the loop; each retry waits its turn and a 429's retry-after pauses that provider for every cell).
Each (item, repeat) is stored as an ordinary run of the item's prompt with `source = batch`, so History,
votes and judging work on batch answers too.

Budget: before starting, the upper-bound estimate of the remaining cells (bakeoff/catalog/estimate.py) must
fit under the cap minus what the batch already spent. While running, a cell starts only if the
spent cost plus the upper bounds of the cells in flight plus its own still fit, and the batch stops
once the actual cost reaches the cap; local-compute cells (no bound) count their actual cost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal

from bakeoff.batch.cells import (
    BatchRefused,
    Cell,
    build_cells,
    cost_day,
    estimate_batch,
    prepare_batch,
    run_for,
    system_for,
)
from bakeoff.batch.progress import BatchOutcome, Progress
from bakeoff.batch.store import Batch, batch_results, existing_runs, save_batch, set_batch_status
from bakeoff.catalog.config import Catalog
from bakeoff.catalog.estimate import check_budget, estimate_cells
from bakeoff.records import Result, Run
from bakeoff.runner.fan_out import RetryPolicy, fan_out
from bakeoff.runner.limits import shared_limiters
from bakeoff.runner.loop import engine
from bakeoff.runner.rate_limit import Limiters
from bakeoff.runner.scoring import EMBEDDER, score_results
from bakeoff.store.store import Store
from metrics.cost import format_usd

log = logging.getLogger(__name__)

# More patient than a single comparison: a batch is meant to ride the provider's rate limit.
BATCH_POLICY = RetryPolicy(max_attempts=6, retry_after_cap_s=60.0)
STOPPED_NOTE = "Stopped by the user; finished cells are kept. Resume to run the rest."


def _best_previous(previous: list[Result]) -> dict[str, Result]:
    """Per cell key, the ok result if there is one, else the latest attempt."""
    out: dict[str, Result] = {}
    for r in previous:
        if r.cell_key is None:
            continue
        old = out.get(r.cell_key)
        if old is None or (r.status == "ok" and old.status != "ok"):
            out[r.cell_key] = r
    return out


class BatchRunner:
    """One session of one batch: the state its cells share while a pool of workers runs them."""

    def __init__(
        self,
        batch: Batch,
        catalog: Catalog,
        store: Store | None,
        *,
        stop: threading.Event | None = None,
        cancel: threading.Event | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_result: Callable[[Result, bool], None] | None = None,
        policy: RetryPolicy = BATCH_POLICY,
        limiters: Limiters | None = None,
    ) -> None:
        self.batch, self.catalog, self.store = batch, catalog, store
        self.stop_event, self.cancel = stop, cancel
        self.on_progress, self.on_result = on_progress, on_result
        self.policy, self.limiters = policy, limiters
        self.specs = prepare_batch(batch, catalog)
        self.cells = build_cells(batch, self.specs)
        self.best: dict[str, Result] = {}  # per cell key, what earlier sessions left
        self.done_ok: dict[str, Result] = {}
        self.todo: list[Cell] = []
        self.cap = batch.budget_usd
        self.bounds: dict[str, Decimal] = {}  # cell key -> its upper bound (0 for local compute), under a cap only
        self.reserved = Decimal(0)  # upper bounds of the cells in flight
        self.prog = Progress(total=len(self.cells))
        self.results: dict[str, Result] = {}
        self.known_runs: set[str] = set()
        self.run_locks: dict[str, asyncio.Lock] = {}
        self.cells_left_per_run: dict[str, int] = {}
        self.ended: dict[str, str] = {}  # status -> note, set once
        self.changed = asyncio.Condition()  # a cell landed: room under the cap may have freed up
        self.started = time.monotonic()
        self.ran_here = 0

    async def run(self) -> BatchOutcome:
        """Run (or resume) the batch; raises BatchRefused before any call if it cannot start."""
        await self._load_previous()
        self._check_budget()
        await self._open()
        queue = deque(self.todo)
        n = min(self.batch.concurrency, max(1, len(self.todo)))
        await asyncio.gather(*(asyncio.create_task(self._worker(queue)) for _ in range(n)))
        return await self._close()

    # ---- before the first call ---------------------------------------------------------------------------

    async def _load_previous(self) -> None:
        store, batch = self.store, self.batch
        previous = await asyncio.to_thread(batch_results, store, batch.batch_id) if store is not None else []
        self.best = _best_previous(previous)
        self.done_ok = {k: r for k, r in self.best.items() if r.status == "ok"}
        self.todo = [c for c in self.cells if c.key not in self.done_ok]
        self.prog.cost_usd = sum((r.cost_usd for r in previous if r.cost_usd is not None), Decimal(0))

    def _check_budget(self) -> None:
        """Refuse a batch whose remaining cells could pass the cap; note each cell's upper bound."""
        cap, batch, spent = self.cap, self.batch, self.prog.cost_usd
        if cap is None:
            return
        day, max_tokens = cost_day(batch), batch.params.max_tokens
        for c in self.todo:
            call = (c.model_ref, system_for(batch, c.item), c.item.prompt)
            (row,) = estimate_cells(self.catalog, [call], max_tokens, day).rows
            self.bounds[c.key] = row.usd or Decimal(0)
        message = check_budget(estimate_batch(batch, self.catalog, skip=set(self.done_ok)), cap - spent)
        if message is not None:
            if spent:
                message = f"This batch has already cost {format_usd(spent)} of its ${cap} cap. {message}"
            raise BatchRefused(message)

    async def _open(self) -> None:
        """Mark the batch running, report the cached cells, and load what the calls will need."""
        store, batch = self.store, self.batch
        if store is not None:
            batch.status, batch.note = "running", None
            await asyncio.to_thread(save_batch, store, batch)
        if self.limiters is None:
            self.limiters = shared_limiters(self.catalog, self.specs)  # the loop's: other jobs draw on them too
        for c in self.cells:
            if c.key in self.done_ok:
                self._count_cached(c.key, self.done_ok[c.key])
        self.started = time.monotonic()
        self._publish()
        if any(c.item.reference is not None for c in self.todo):
            # load the embedder now, not while the first answers stream: a load mid-batch would skew their timings
            await asyncio.to_thread(EMBEDDER.get)
        if store is not None:
            self.known_runs = await asyncio.to_thread(existing_runs, store, {c.run_id for c in self.cells})
        for c in self.todo:
            self.cells_left_per_run[c.run_id] = self.cells_left_per_run.get(c.run_id, 0) + 1

    def _count_cached(self, key: str, r: Result) -> None:
        self.results[key] = r
        self.prog.done += 1
        self.prog.ok += 1
        self.prog.cached += 1
        self.prog.unpriced += r.cost_usd is None
        if self.on_result is not None:
            self.on_result(r, True)

    # ---- while running ---------------------------------------------------------------------------------------

    def _publish(self) -> None:
        prog = self.prog
        prog.elapsed_s = time.monotonic() - self.started
        left = prog.total - prog.done
        prog.eta_s = 0.0 if left == 0 else (prog.elapsed_s / self.ran_here * left if self.ran_here else None)
        if self.on_progress is not None:
            self.on_progress(dataclasses.replace(prog))

    def _stopping(self) -> bool:
        """True once the user stopped (either event) or the budget ended the batch: start no more cells."""
        if not self.ended and any(e is not None and e.is_set() for e in (self.stop_event, self.cancel)):
            self.ended["stopped"] = STOPPED_NOTE
        return bool(self.ended)

    async def _worker(self, queue: deque[Cell]) -> None:
        while queue and not self._stopping():
            cell = queue.popleft()
            if not await self._admit(cell):
                queue.appendleft(cell)
                return
            await self._run_cell(cell)

    async def _admit(self, cell: Cell) -> bool:
        """Reserve the cell's upper bound under the cap; False when the budget says stop."""
        cap, prog = self.cap, self.prog
        if cap is None:
            return True
        bound = self.bounds[cell.key]
        async with self.changed:
            while True:
                if self._stopping():
                    return False
                if prog.cost_usd >= cap:
                    spent_text = format_usd(prog.cost_usd)
                    self.ended.setdefault(
                        "budget", f"Stopped at the ${cap} budget cap: the batch has cost {spent_text}."
                    )
                    return False
                if prog.cost_usd + self.reserved + bound <= cap:
                    self.reserved += bound
                    return True
                if self.reserved == 0:  # nothing in flight will free room: this cell alone would pass the cap
                    self.ended.setdefault(
                        "budget",
                        f"Stopped before the ${cap} budget cap: {format_usd(prog.cost_usd)} spent, and the next call "
                        f"could cost up to {format_usd(bound)}.",
                    )
                    return False
                await self.changed.wait()

    async def _ensure_run(self, run: Run) -> None:
        if self.store is None or run.run_id in self.known_runs:
            return
        async with self.run_locks.setdefault(run.run_id, asyncio.Lock()):
            if run.run_id not in self.known_runs:
                await asyncio.to_thread(self.store.save_run, run)
                self.known_runs.add(run.run_id)

    def _new_result(self, cell: Cell) -> Result:
        res = Result(
            run_id=cell.run_id,
            model_ref=cell.model_ref,
            provider=cell.spec.provider,
            model=cell.spec.model,
            kind=cell.spec.kind,
            precision=cell.spec.precision,
            batch_id=self.batch.batch_id,
            item_id=cell.item.item_id,
            cell_key=cell.key,
            repeat=cell.repeat,
            item_metadata=dict(cell.item.metadata),
        )
        prior = self.best.get(cell.key)
        if prior is not None:
            res.result_id = prior.result_id  # a failed cell run again replaces its row
        return res

    async def _run_cell(self, cell: Cell) -> None:
        run = run_for(self.batch, cell)
        await self._ensure_run(run)
        res = self._new_result(cell)
        self.prog.running += 1
        try:
            await fan_out(
                run,
                [cell.spec],
                self.catalog,
                cancel=self.cancel,
                policy=self.policy,
                results=[res],
                limiters=self.limiters,
            )
            if res.status == "ok":
                await asyncio.to_thread(score_results, run, [res])
            await self._save(res)
        finally:
            self.prog.running -= 1
        await self._landed(cell, res)

    async def _save(self, res: Result) -> None:
        if self.store is None:
            return
        try:
            await asyncio.to_thread(self.store.save_result, res)
        except Exception:
            log.exception("could not save batch cell %s", res.cell_key)

    async def _landed(self, cell: Cell, res: Result) -> None:
        """Count the cell, free its budget reservation, close its run once its last cell is in, report it."""
        prog = self.prog
        self.results[cell.key] = res
        self.ran_here += 1
        prog.done += res.status != "cancelled"
        prog.ok += res.status == "ok"
        prog.failed += res.status not in ("ok", "cancelled")
        if res.cost_usd is not None:
            prog.cost_usd += res.cost_usd
        elif res.status == "ok":
            prog.unpriced += 1
        async with self.changed:
            if self.cap is not None:
                self.reserved -= self.bounds[cell.key]
            self.changed.notify_all()
        self.cells_left_per_run[cell.run_id] -= 1
        if self.store is not None and self.cells_left_per_run[cell.run_id] == 0:
            await asyncio.to_thread(self.store.set_run_status, cell.run_id, "done")
        if self.on_result is not None:
            self.on_result(res, False)
        self._publish()

    # ---- after the last cell -------------------------------------------------------------------------------

    async def _close(self) -> BatchOutcome:
        """Record why the batch ended, mark the runs it left unfinished, and return every cell's result."""
        self._stopping()  # a cancel that arrived during the last cells still counts as a stop
        status, note = next(iter(self.ended.items())) if self.ended else ("done", None)
        failed = sum(r.status != "ok" for r in self.results.values())
        if status == "done" and failed:
            note = f"{failed} cell{'s' if failed != 1 else ''} failed; resume to run them again."
        batch = self.batch
        batch.status, batch.note = status, note
        if self.store is not None:
            await asyncio.to_thread(set_batch_status, self.store, batch.batch_id, status, note)
            unfinished = {rid for rid, n in self.cells_left_per_run.items() if n > 0}
            for rid in unfinished & self.known_runs:
                await asyncio.to_thread(self.store.set_run_status, rid, "cancelled")
        self._publish()
        ordered = [self.results[c.key] for c in self.cells if c.key in self.results]
        return BatchOutcome(batch, status, note, ordered, set(self.done_ok), dataclasses.replace(self.prog))


async def run_batch(
    batch: Batch,
    catalog: Catalog,
    store: Store | None,
    *,
    stop: threading.Event | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_result: Callable[[Result, bool], None] | None = None,
    policy: RetryPolicy = BATCH_POLICY,
    limiters: Limiters | None = None,
) -> BatchOutcome:
    """Run (or resume) a batch; returns every cell's result. Raises BatchRefused before any call if it cannot start.

    `stop` starts no new cell and lets the calls in flight finish (saved with their cost: a resume does not
    send them again); `cancel` also aborts the calls in flight, keeping what they streamed as `cancelled`
    results (priced on what was received), which a resume sends again. `on_result(result, cached)` is
    called for each cell as it lands (cached ones first); `on_progress` after each. Both run on the event
    loop's thread.
    """
    runner = BatchRunner(
        batch,
        catalog,
        store,
        stop=stop,
        cancel=cancel,
        on_progress=on_progress,
        on_result=on_result,
        policy=policy,
        limiters=limiters,
    )
    return await runner.run()


def run_batch_blocking(batch: Batch, catalog: Catalog, store: Store | None, **kwargs) -> BatchOutcome:
    """run_batch on the process's engine loop, waiting for its outcome."""
    return engine().run(run_batch(batch, catalog, store, **kwargs))
