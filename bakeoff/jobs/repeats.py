"""Repeats: the same comparison run N times, one after another, to see how much the figures vary.

Each repeat is an ordinary run (saved, listed in History); they run in sequence, not at once, so a
repeat never queues behind another repeat of the same model and every timing is taken alike. The
series lives on its own thread, beside LiveRuns, so it outlives Streamlit reruns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from bakeoff.catalog.config import Catalog
from bakeoff.jobs.live import LiveRun, LiveRuns
from bakeoff.records import Run, new_id
from bakeoff.store.store import Store

log = logging.getLogger(__name__)

MAX_REPEATS = 20


@dataclass
class RepeatSeries:
    total: int
    series_id: str = field(default_factory=new_id)
    run_ids: list[str] = field(default_factory=list)  # the repeats started so far, in order
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failure: str | None = None

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    def started(self) -> list[str]:
        with self.lock:
            return list(self.run_ids)

    def _add(self, run_id: str) -> None:
        with self.lock:
            self.run_ids.append(run_id)


class RepeatSeriesRegistry:
    """Process-wide registry of repeat series (shared by every browser session, like LiveRuns)."""

    def __init__(self, keep: int = 50):
        self._series: dict[str, RepeatSeries] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def start(
        self, make_run: Callable[[], Run], total: int, live_runs: LiveRuns, catalog: Catalog, store: Store | None
    ) -> RepeatSeries:
        """Start the first repeat now (raises InvalidRun like LiveRuns.start), the rest on a thread in turn."""
        if not 1 <= total <= MAX_REPEATS:
            from bakeoff.runner.fan_out import InvalidRun

            raise InvalidRun(f"Repeats must be between 1 and {MAX_REPEATS} (got {total}).")
        series = RepeatSeries(total=total)
        first = live_runs.start(make_run(), catalog, store)
        series._add(first.run.run_id)
        with self._lock:
            self._series[series.series_id] = series
            finished = [k for k, v in self._series.items() if v.done]
            for old in finished[: max(0, len(self._series) - self._keep)]:
                del self._series[old]
        threading.Thread(
            target=self._work,
            args=(series, first, make_run, live_runs, catalog, store),
            name=f"bakeoff-repeats-{series.series_id}",
            daemon=True,
        ).start()
        return series

    @staticmethod
    def _work(
        series: RepeatSeries,
        first: LiveRun,
        make_run: Callable[[], Run],
        live_runs: LiveRuns,
        catalog: Catalog,
        store: Store | None,
    ) -> None:
        current = first
        try:
            while True:
                while not current.finished.wait(0.05):
                    if series.cancel.is_set():
                        current.cancel.set()
                if series.cancel.is_set() or len(series.started()) >= series.total:
                    break
                current = live_runs.start(make_run(), catalog, store)
                series._add(current.run.run_id)
        except Exception as exc:  # shown on the page, never as a traceback
            log.exception("repeat series %s failed", series.series_id)
            series.failure = f"{type(exc).__name__}: {exc}"
        finally:
            series.finished.set()

    def get(self, series_id: str) -> RepeatSeries | None:
        with self._lock:
            return self._series.get(series_id)
