"""A judging as a background job: pages poll its progress and read the saved judgments from the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from bakeoff.catalog.config import Catalog
from bakeoff.jobs.registry import Job, Jobs
from bakeoff.judging import InvalidJudging, JudgeSettings, Progress, calls_needed, judge_run, prepare_judge
from bakeoff.records import Judgment, Result, Run, new_id
from bakeoff.store.store import Store


@dataclass(kw_only=True, eq=False)
class JudgingJob(Job):
    """Keyed by the judged run: at most one judging of a run in flight."""

    settings: JudgeSettings
    progress: Progress
    batch_id: str = field(default_factory=new_id)
    judgments: list[Judgment] = field(default_factory=list)

    def add(self, j: Judgment) -> None:
        with self.lock:
            self.judgments.append(j)

    def snapshot(self) -> list[Judgment]:
        with self.lock:
            return list(self.judgments)


def start_judging(
    jobs: Jobs, run: Run, results: list[Result], settings: JudgeSettings, catalog: Catalog, store: Store | None
) -> JudgingJob:
    """Validate here (raises InvalidJudging), then judge on the engine loop."""
    spec = prepare_judge(settings, catalog)
    job = JudgingJob(key=run.run_id, settings=settings, progress=Progress(total=calls_needed(results, settings.mode)))
    answers = list(results)

    async def work(j: JudgingJob) -> None:
        await judge_run(
            run,
            answers,
            j.settings,
            catalog,
            store,
            spec=spec,
            batch_id=j.batch_id,
            on_judgment=j.add,
            progress=j.progress,
            cancel=j.cancel,
        )

    refusal = InvalidJudging("This run is already being judged; wait for it to finish or stop it.")
    return jobs.start(job, work, one_at_a_time="per key", refusal=refusal)
