"""Lab runs as background jobs for the page: one at a time, polled through a published copy of the report."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from bakeoff.catalog.config import Catalog
from bakeoff.jobs.registry import Job, Jobs
from bakeoff.quant_lab.planner import LabReport, LabSettings, plan
from bakeoff.quant_lab.run import run_lab
from bakeoff.quant_lab.variants import InvalidLab
from bakeoff.store.store import Store


@dataclass(kw_only=True, eq=False)
class LabJob(Job):
    report: LabReport  # owned by the engine loop
    view: LabReport | None = None

    def publish(self, report: LabReport) -> None:
        snap = copy.deepcopy(report)
        with self.lock:
            self.view = snap

    def snapshot(self) -> LabReport:
        with self.lock:
            return self.view if self.view is not None else self.report


def start_lab(jobs: Jobs, settings: LabSettings, catalog: Catalog, store: Store | None) -> LabJob:
    """Plan here (raises InvalidLab), then run on the engine loop; one lab at a time (they compete for CPU and RAM)."""
    rows, _ = plan(settings, catalog)
    report = LabReport(settings, rows)
    job = LabJob(key=report.lab_id, report=report)
    job.publish(report)

    async def work(j: LabJob) -> None:
        try:
            await run_lab(j.report.settings, catalog, store, report=j.report, on_update=j.publish, cancel=j.cancel)
        finally:
            j.publish(j.report)

    refusal = InvalidLab("A lab run is already in progress; wait for it or stop it.")
    return jobs.start(job, work, one_at_a_time="per kind", refusal=refusal)
