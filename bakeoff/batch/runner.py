"""Batch evaluation: every prompt × model × repeat, at each provider's rate limit, resumable, under a budget.

Each cell (one call) is keyed by a hash of what was asked — model, precision, generation settings,
system prompt, prompt and repeat index — and saved the moment it lands (Store.save_result), so a
stopped or crashed batch resumes without re-running, or re-billing, any cell that finished ok;
those come back marked `cached`. Cells that failed are run again on resume, overwriting their row.

Concurrency is bounded overall (a pool of workers) and per provider budget (bakeoff/runner/rate_limit.py,
limits from models.yaml; each retry waits its turn and a 429's retry-after pauses that provider for
every cell). Each (item, repeat) is stored as an ordinary run of the item's prompt with `source =
batch`, so History, votes and judging work on batch answers too.

Budget: before starting, the upper-bound estimate of the remaining cells (bakeoff/catalog/estimate.py) must
fit under the cap minus what the batch already spent. While running, a cell starts only if the
spent cost plus the upper bounds of the cells in flight plus its own still fit, and the batch stops
once the actual cost reaches the cap; local-compute cells (no bound) count their actual cost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from bakeoff.batch.input import BatchItem
from bakeoff.batch.store import Batch, batch_results, existing_runs, save_batch, set_batch_status
from bakeoff.catalog.config import Catalog, UnknownModel, resolve
from bakeoff.catalog.estimate import CostEstimate, check_budget, estimate_cells
from bakeoff.records import Result, Run
from bakeoff.runner.fan_out import InvalidRun, RetryPolicy, fan_out, validate
from bakeoff.runner.rate_limit import Limiters, limiters_for
from bakeoff.runner.scoring import EMBEDDER, score_results
from bakeoff.store.store import Store
from metrics.cost import format_usd
from providers.base import ModelSpec

log = logging.getLogger(__name__)

# More patient than a single comparison: a batch is meant to ride the provider's rate limit.
BATCH_POLICY = RetryPolicy(max_attempts=6, retry_after_cap_s=60.0)
MAX_CONCURRENCY = 256


class BatchRefused(ValueError):
    """The batch cannot start: bad settings, an unknown model, or a budget it would exceed."""


@dataclass(frozen=True)
class Cell:
    item: BatchItem
    model_ref: str
    spec: ModelSpec
    repeat: int
    key: str
    run_id: str  # the (item, repeat) run this cell's result belongs to


def system_for(batch: Batch, item: BatchItem) -> str | None:
    """The item's own system prompt, else the batch's."""
    return item.system if item.system is not None else (batch.params.system or None)


def cell_key(spec: ModelSpec, batch: Batch, item: BatchItem, repeat: int) -> str:
    """Hash of everything that decides the answer (not the timeout: it does not change what is asked).

    >>> from providers.base import ModelSpec
    >>> b = Batch(items=[], model_refs=["m"])
    >>> it = BatchItem("1", "hi")
    >>> spec = ModelSpec(id="m", provider="openai", model="gpt-4o", kind="commercial")
    >>> cell_key(spec, b, it, 0) == cell_key(spec, b, it, 0) != cell_key(spec, b, it, 1)
    True
    """
    p = batch.params
    payload = {
        "model": spec.id,
        "provider": spec.provider,
        "provider_model": spec.model,
        "precision": spec.precision,
        "params": {"max_tokens": p.max_tokens, "temperature": p.temperature, "top_p": p.top_p, "seed": p.seed},
        "system": system_for(batch, item),
        "prompt": item.prompt,
        "repeat": repeat,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def _run_id(batch_id: str, item_id: str, repeat: int) -> str:
    return hashlib.sha256(f"{batch_id}\0{item_id}\0{repeat}".encode()).hexdigest()[:16]


def prepare_batch(batch: Batch, catalog: Catalog) -> list[ModelSpec]:
    """Check the settings and resolve the models, or raise BatchRefused saying what to fix."""
    if not batch.items:
        raise BatchRefused("The batch has no prompts.")
    if not batch.model_refs:
        raise BatchRefused("No model selected: pick at least one model.")
    if len(set(batch.model_refs)) != len(batch.model_refs):
        raise BatchRefused("A model is selected twice; use repeats to run a model more than once.")
    if batch.repeats < 1:
        raise BatchRefused(f"Repeats must be at least 1 (got {batch.repeats}).")
    if not 1 <= batch.concurrency <= MAX_CONCURRENCY:
        raise BatchRefused(f"Concurrency must be between 1 and {MAX_CONCURRENCY} (got {batch.concurrency}).")
    if batch.budget_usd is not None and batch.budget_usd <= 0:
        raise BatchRefused(f"The budget cap must be positive (got ${batch.budget_usd}).")
    try:
        validate(Run(prompt="-", model_refs=list(batch.model_refs), params=batch.params))
        return [resolve(catalog, ref) for ref in batch.model_refs]
    except (InvalidRun, UnknownModel) as exc:
        raise BatchRefused(str(exc)) from None


def build_cells(batch: Batch, specs: list[ModelSpec]) -> list[Cell]:
    """Item-major order, so early results cover every model on the first prompts."""
    return [
        Cell(item, ref, spec, rep, cell_key(spec, batch, item, rep), _run_id(batch.batch_id, item.item_id, rep))
        for item in batch.items
        for rep in range(batch.repeats)
        for ref, spec in zip(batch.model_refs, specs, strict=True)
    ]


def _cost_day(batch: Batch):
    return batch.created_at.date()


def estimate_batch(batch: Batch, catalog: Catalog, skip: set[str] | None = None) -> CostEstimate:
    """Upper-bound cost of the batch's cells, leaving out the cell keys in `skip` (already done)."""
    specs = prepare_batch(batch, catalog)
    cells = [c for c in build_cells(batch, specs) if not skip or c.key not in skip]
    return estimate_cells(
        catalog,
        [(c.model_ref, system_for(batch, c.item), c.item.prompt) for c in cells],
        batch.params.max_tokens,
        _cost_day(batch),
    )


@dataclass
class Progress:
    total: int
    done: int = 0  # finished cells, cached ones included
    ok: int = 0
    failed: int = 0
    cached: int = 0
    running: int = 0
    cost_usd: Decimal = Decimal(0)  # what the batch has cost so far (priced cells; earlier sessions included)
    unpriced: int = 0  # finished cells whose cost is unknown
    elapsed_s: float = 0.0
    eta_s: float | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def line(self) -> str:
        """e.g. "37/150 cells (2 failed, 10 cached) · $0.0123 · ETA 1m05s"."""
        extra = [f"{n} {what}" for n, what in ((self.failed, "failed"), (self.cached, "cached")) if n]
        eta = "—" if self.eta_s is None else _duration(self.eta_s)
        cost = format_usd(self.cost_usd) + (f" + {self.unpriced} unpriced" if self.unpriced else "")
        return f"{self.done}/{self.total} cells{' (' + ', '.join(extra) + ')' if extra else ''} · {cost} · ETA {eta}"


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


@dataclass
class BatchOutcome:
    batch: Batch
    status: str  # done | stopped | budget
    note: str | None
    results: list[Result]  # one per cell, in cell order (cells never started are absent)
    cached: set[str] = field(default_factory=set)  # cell keys that were already done before this session
    progress: Progress | None = None


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


def _run_for(batch: Batch, cell: Cell) -> Run:
    item = cell.item
    return Run(
        prompt=item.prompt,
        model_refs=list(batch.model_refs),
        params=dataclasses.replace(batch.params, system=system_for(batch, item)),
        reference=item.reference,
        run_id=cell.run_id,
        created_at=batch.created_at,
        status="running",
        source="batch",
    )


async def run_batch(
    batch: Batch,
    catalog: Catalog,
    store: Store | None,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_result: Callable[[Result, bool], None] | None = None,
    policy: RetryPolicy = BATCH_POLICY,
    limiters: Limiters | None = None,
) -> BatchOutcome:
    """Run (or resume) a batch; returns every cell's result. Raises BatchRefused before any call if it cannot start.

    `on_result(result, cached)` is called for each cell as it lands (cached ones first); `on_progress`
    after each. Both run on the event loop's thread.
    """
    specs = prepare_batch(batch, catalog)
    cells = build_cells(batch, specs)
    previous = await asyncio.to_thread(batch_results, store, batch.batch_id) if store is not None else []
    best = _best_previous(previous)
    done_ok = {k: r for k, r in best.items() if r.status == "ok"}
    todo = [c for c in cells if c.key not in done_ok]
    spent = sum((r.cost_usd for r in previous if r.cost_usd is not None), Decimal(0))

    cap = batch.budget_usd
    bounds: dict[str, Decimal] = {}  # cell key -> its upper bound (0 for local compute), under a cap only
    if cap is not None:
        day, max_tokens = _cost_day(batch), batch.params.max_tokens
        for c in todo:
            call = (c.model_ref, system_for(batch, c.item), c.item.prompt)
            (row,) = estimate_cells(catalog, [call], max_tokens, day).rows
            bounds[c.key] = row.usd or Decimal(0)
        message = check_budget(estimate_batch(batch, catalog, skip=set(done_ok)), cap - spent)
        if message is not None:
            if spent:
                message = f"This batch has already cost {format_usd(spent)} of its ${cap} cap. {message}"
            raise BatchRefused(message)

    if store is not None:
        batch.status, batch.note = "running", None
        await asyncio.to_thread(save_batch, store, batch)
    limiters = limiters if limiters is not None else limiters_for(catalog, specs)

    prog = Progress(total=len(cells), cost_usd=spent)
    results: dict[str, Result] = {}
    for c in cells:
        if c.key in done_ok:
            r = done_ok[c.key]
            results[c.key] = r
            prog.done += 1
            prog.ok += 1
            prog.cached += 1
            prog.unpriced += r.cost_usd is None
            if on_result is not None:
                on_result(r, True)
    started = time.monotonic()
    ran_here = 0

    def publish() -> None:
        prog.elapsed_s = time.monotonic() - started
        left = prog.total - prog.done
        prog.eta_s = 0.0 if left == 0 else (prog.elapsed_s / ran_here * left if ran_here else None)
        if on_progress is not None:
            on_progress(dataclasses.replace(prog))

    publish()
    if todo and any(c.item.reference is not None for c in todo):
        # load the embedder now, not while the first answers stream: a load mid-batch would skew their timings
        await asyncio.to_thread(EMBEDDER.get)
    known_runs = await asyncio.to_thread(existing_runs, store, {c.run_id for c in cells}) if store else set()
    run_locks: dict[str, asyncio.Lock] = {}
    cells_left_per_run: dict[str, int] = {}
    for c in todo:
        cells_left_per_run[c.run_id] = cells_left_per_run.get(c.run_id, 0) + 1

    queue = deque(todo)
    reserved = Decimal(0)
    changed = asyncio.Condition()
    stop: dict[str, str] = {}  # status -> note, set once

    def stopping() -> bool:
        if cancel is not None and cancel.is_set() and not stop:
            stop["stopped"] = "Stopped by the user; finished cells are kept. Resume to run the rest."
        return bool(stop)

    async def ensure_run(run: Run) -> None:
        if store is None or run.run_id in known_runs:
            return
        lock = run_locks.setdefault(run.run_id, asyncio.Lock())
        async with lock:
            if run.run_id not in known_runs:
                await asyncio.to_thread(store.save_run, run)
                known_runs.add(run.run_id)

    async def admit(cell: Cell) -> bool:
        """Reserve the cell's upper bound under the cap; False when the budget says stop."""
        nonlocal reserved
        if cap is None:
            return True
        bound = bounds[cell.key]
        async with changed:
            while True:
                if stopping():
                    return False
                if prog.cost_usd >= cap:
                    spent_text = format_usd(prog.cost_usd)
                    stop.setdefault("budget", f"Stopped at the ${cap} budget cap: the batch has cost {spent_text}.")
                    return False
                if prog.cost_usd + reserved + bound <= cap:
                    reserved += bound
                    return True
                if reserved == 0:  # nothing in flight will free room: this cell alone would pass the cap
                    stop.setdefault(
                        "budget",
                        f"Stopped before the ${cap} budget cap: {format_usd(prog.cost_usd)} spent, and the next call "
                        f"could cost up to {format_usd(bound)}.",
                    )
                    return False
                await changed.wait()

    async def run_cell(cell: Cell) -> None:
        nonlocal reserved, ran_here
        run = _run_for(batch, cell)
        await ensure_run(run)
        prior = best.get(cell.key)
        res = Result(
            run_id=run.run_id,
            model_ref=cell.model_ref,
            provider=cell.spec.provider,
            model=cell.spec.model,
            kind=cell.spec.kind,
            precision=cell.spec.precision,
            batch_id=batch.batch_id,
            item_id=cell.item.item_id,
            cell_key=cell.key,
            repeat=cell.repeat,
            item_metadata=dict(cell.item.metadata),
        )
        if prior is not None:
            res.result_id = prior.result_id  # a failed cell run again replaces its row
        prog.running += 1
        try:
            await fan_out(run, [cell.spec], catalog, cancel=cancel, policy=policy, results=[res], limiters=limiters)
            if res.status == "ok":
                await asyncio.to_thread(score_results, run, [res])
            if store is not None:
                try:
                    await asyncio.to_thread(store.save_result, res)
                except Exception:
                    log.exception("could not save batch cell %s", cell.key)
        finally:
            prog.running -= 1
        results[cell.key] = res
        ran_here += 1
        prog.done += res.status != "cancelled"
        prog.ok += res.status == "ok"
        prog.failed += res.status not in ("ok", "cancelled")
        if res.cost_usd is not None:
            prog.cost_usd += res.cost_usd
        elif res.status == "ok":
            prog.unpriced += 1
        async with changed:
            if cap is not None:
                reserved -= bounds[cell.key]
            changed.notify_all()
        cells_left_per_run[run.run_id] -= 1
        if store is not None and cells_left_per_run[run.run_id] == 0:
            await asyncio.to_thread(store.set_run_status, run.run_id, "done")
        if on_result is not None:
            on_result(res, False)
        publish()

    async def worker() -> None:
        while queue and not stopping():
            cell = queue.popleft()
            if not await admit(cell):
                queue.appendleft(cell)
                return
            await run_cell(cell)

    workers = [asyncio.create_task(worker()) for _ in range(min(batch.concurrency, max(1, len(todo))))]
    await asyncio.gather(*workers)
    stopping()  # a cancel that arrived during the last cells still counts as a stop
    status, note = next(iter(stop.items())) if stop else ("done", None)
    if status == "done" and any(r.status != "ok" for r in results.values()):
        failed = sum(r.status != "ok" for r in results.values())
        note = f"{failed} cell{'s' if failed != 1 else ''} failed; resume to run them again."
    batch.status, batch.note = status, note
    if store is not None:
        await asyncio.to_thread(set_batch_status, store, batch.batch_id, status, note)
        unfinished = {rid for rid, n in cells_left_per_run.items() if n > 0}
        for rid in unfinished & known_runs:
            await asyncio.to_thread(store.set_run_status, rid, "cancelled")
    publish()
    ordered = [results[c.key] for c in cells if c.key in results]
    return BatchOutcome(batch, status, note, ordered, set(done_ok), dataclasses.replace(prog))


def run_batch_blocking(batch: Batch, catalog: Catalog, store: Store | None, **kwargs) -> BatchOutcome:
    return asyncio.run(run_batch(batch, catalog, store, **kwargs))
