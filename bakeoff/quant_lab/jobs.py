"""Lab runs for the page: each on its own thread, one at a time, polled through a published copy."""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
from dataclasses import dataclass, field

from bakeoff.catalog.config import Catalog
from bakeoff.quant_lab.planner import LabReport, LabSettings, plan
from bakeoff.quant_lab.run import run_lab
from bakeoff.quant_lab.variants import InvalidLab
from bakeoff.store.store import Store

log = logging.getLogger(__name__)


@dataclass
class LabJob:
    report: LabReport
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failure: str | None = None
    _view: LabReport | None = None

    def publish(self, report: LabReport) -> None:
        snap = copy.deepcopy(report)
        with self.lock:
            self._view = snap

    def snapshot(self) -> LabReport:
        with self.lock:
            return self._view if self._view is not None else self.report

    @property
    def done(self) -> bool:
        return self.finished.is_set()


class LabJobs:
    """Process-wide registry of lab runs; one runs at a time (they would compete for the CPU and RAM)."""

    def __init__(self, keep: int = 20):
        self._jobs: dict[str, LabJob] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def start(self, settings: LabSettings, catalog: Catalog, store: Store | None) -> LabJob:
        """Plan synchronously (raises InvalidLab), then run on a background thread."""
        rows, _ = plan(settings, catalog)
        with self._lock:
            if any(not j.done for j in self._jobs.values()):
                raise InvalidLab("A lab run is already in progress; wait for it or stop it.")
            job = LabJob(LabReport(settings, rows))
            job.publish(job.report)
            self._jobs[job.report.lab_id] = job
            done = [k for k, j in self._jobs.items() if j.done]
            for old in done[: max(0, len(self._jobs) - self._keep)]:
                del self._jobs[old]
        threading.Thread(target=self._work, args=(job, catalog, store), name="bakeoff-quant-lab", daemon=True).start()
        return job

    @staticmethod
    def _work(job: LabJob, catalog: Catalog, store: Store | None) -> None:
        try:
            asyncio.run(run_lab(job.report.settings, catalog, store, report=job.report, on_update=job.publish,
                                cancel=job.cancel))
        except Exception as exc:
            log.exception("quantization lab failed")
            job.failure = f"{type(exc).__name__}: {exc}"
        finally:
            job.publish(job.report)
            job.finished.set()

    def get(self, lab_id: str) -> LabJob | None:
        with self._lock:
            return self._jobs.get(lab_id)
