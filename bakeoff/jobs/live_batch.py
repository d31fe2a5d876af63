"""Batches that outlive a Streamlit script run: each runs on its own thread and event loop; the page polls.

Same pattern as bakeoff/jobs/live.py: the loop thread publishes a progress copy into a lock-guarded object in
a process-wide registry, and a fragment on the page reads it. Results themselves are read back from the
store (each cell is saved as it lands), so a page reload or another session sees the same batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from bakeoff.batch.runner import BatchOutcome, BatchRefused, Progress, estimate_batch, prepare_batch, run_batch
from bakeoff.batch.store import Batch, batch_results
from bakeoff.catalog.config import Catalog
from bakeoff.catalog.estimate import check_budget
from bakeoff.store.store import Store

log = logging.getLogger(__name__)


@dataclass
class LiveBatch:
    batch: Batch
    progress: Progress
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    outcome: BatchOutcome | None = None
    failure: str | None = None  # the engine itself failed (not a model); shown on the page

    def publish(self, p: Progress) -> None:
        with self.lock:
            self.progress = p

    def snapshot(self) -> Progress:
        with self.lock:
            return dataclasses.replace(self.progress)

    @property
    def done(self) -> bool:
        return self.finished.is_set()


class LiveBatches:
    """Process-wide registry of batches in flight (one per batch id)."""

    def __init__(self, keep: int = 20):
        self._batches: dict[str, LiveBatch] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def start(self, batch: Batch, catalog: Catalog, store: Store) -> LiveBatch:
        """Check settings and budget synchronously (raises BatchRefused), then run on a background thread."""
        prepare_batch(batch, catalog)
        previous = batch_results(store, batch.batch_id)
        done = {r.cell_key for r in previous if r.status == "ok"}
        if batch.budget_usd is not None:
            spent = sum((r.cost_usd for r in previous if r.cost_usd is not None), Decimal(0))
            message = check_budget(estimate_batch(batch, catalog, skip=done), batch.budget_usd - spent)
            if message is not None:
                raise BatchRefused(message)
        total = len(batch.items) * len(batch.model_refs) * batch.repeats
        with self._lock:
            current = self._batches.get(batch.batch_id)
            if current is not None and not current.done:
                raise BatchRefused("This batch is already running.")
            live = LiveBatch(batch, Progress(total=total, done=len(done), ok=len(done), cached=len(done)))
            self._batches[batch.batch_id] = live
            finished = [k for k, v in self._batches.items() if v.done]
            for old in finished[: max(0, len(self._batches) - self._keep)]:
                del self._batches[old]
        threading.Thread(
            target=self._work, args=(live, catalog, store), name=f"bakeoff-batch-{batch.batch_id}", daemon=True
        ).start()
        return live

    @staticmethod
    def _work(live: LiveBatch, catalog: Catalog, store: Store) -> None:
        try:
            live.outcome = asyncio.run(
                run_batch(live.batch, catalog, store, cancel=live.cancel, on_progress=live.publish)
            )
        except BatchRefused as exc:
            live.failure = str(exc)
        except Exception as exc:  # surfaced on the page, never as a traceback
            log.exception("batch %s failed", live.batch.batch_id)
            live.failure = f"{type(exc).__name__}: {exc}"
        finally:
            live.finished.set()

    def get(self, batch_id: str) -> LiveBatch | None:
        with self._lock:
            return self._batches.get(batch_id)
