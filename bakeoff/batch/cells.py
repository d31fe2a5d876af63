"""A batch's cells: one call per item × model × repeat, keyed by what was asked, and their cost bound.

The key hashes model, precision, generation settings, system prompt, prompt and repeat index, so a
resumed batch recognises every cell that already finished and never re-runs (or re-bills) it. A suite's
item also hashes its id: two tests may render the same prompt yet check it differently.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from bakeoff.batch.input import BatchItem
from bakeoff.batch.store import Batch
from bakeoff.batch.suite import SuiteInfo
from bakeoff.catalog.config import Catalog, UnknownModel, resolve
from bakeoff.catalog.estimate import CostEstimate, estimate_cells
from bakeoff.records import Run
from bakeoff.runner.fan_out import InvalidRun, validate
from providers.base import ModelSpec

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
    if SuiteInfo.from_metadata(item.metadata) is not None:
        payload["suite_item"] = item.item_id
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


def cost_day(batch: Batch) -> dt.date:
    """Cells are priced as of the day the batch was created, so a resume costs the same."""
    return batch.created_at.date()


def estimate_batch(batch: Batch, catalog: Catalog, skip: set[str] | None = None) -> CostEstimate:
    """Upper-bound cost of the batch's cells, leaving out the cell keys in `skip` (already done)."""
    specs = prepare_batch(batch, catalog)
    cells = [c for c in build_cells(batch, specs) if not skip or c.key not in skip]
    return estimate_cells(
        catalog,
        [(c.model_ref, system_for(batch, c.item), c.item.prompt) for c in cells],
        batch.params.max_tokens,
        cost_day(batch),
    )


def run_for(batch: Batch, cell: Cell) -> Run:
    """The ordinary run a cell's result is stored under, so History, votes and judging see batch answers.

    A suite item's checks become the run's assertions, so scoring reports each one on every answer.
    """
    item = cell.item
    suite = SuiteInfo.from_metadata(item.metadata)
    return Run(
        prompt=item.prompt,
        model_refs=list(batch.model_refs),
        params=dataclasses.replace(batch.params, system=system_for(batch, item)),
        reference=item.reference,
        assertions=suite.assertions() if suite is not None else [],
        run_id=cell.run_id,
        created_at=batch.created_at,
        status="running",
        source="batch",
    )
