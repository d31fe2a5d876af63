"""Runs that outlive a Streamlit script run.

Streamlit stops a script on any widget interaction, so a run streamed from inside the script
would be lost. Instead the run executes on its own thread with its own event loop; after every
event the loop thread publishes a copy of that model's result into a process-wide, lock-guarded
registry, and the page polls those copies (tested in Chromium: clicking mid-run loses no stream).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

from bakeoff.catalog.config import Catalog
from bakeoff.judging import InvalidJudging, JudgeSettings, Progress, calls_needed, judge_run, prepare_judge
from bakeoff.records import Judgment, Result, Run, new_id
from bakeoff.runner.engine import execute, prepare
from bakeoff.runner.fan_out import new_result
from bakeoff.store.store import Store
from providers.base import ModelSpec

log = logging.getLogger(__name__)


@dataclass
class LiveRun:
    run: Run
    specs: list[ModelSpec]
    results: list[Result]  # owned by the loop thread
    view: dict[str, Result] = field(default_factory=dict)  # result_id -> copy, read by pages
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failure: str | None = None  # set only if the engine itself failed (not a model)

    def publish(self, res: Result) -> None:
        copy = res.snapshot()  # taken on the loop thread, so it is consistent
        with self.lock:
            self.view[res.result_id] = copy

    def snapshot(self) -> list[Result]:
        with self.lock:
            return [self.view[r.result_id] for r in self.results]

    @property
    def done(self) -> bool:
        return self.finished.is_set()


class LiveRuns:
    """Process-wide registry of in-flight and recent runs, shared by every browser session."""

    def __init__(self, keep: int = 50):
        self._runs: dict[str, LiveRun] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def start(self, run: Run, catalog: Catalog, store: Store | None) -> LiveRun:
        """Validate synchronously (raises InvalidRun), then run on a background thread."""
        specs = prepare(run, catalog)
        live = LiveRun(
            run, specs, [new_result(run, ref, spec) for ref, spec in zip(run.model_refs, specs, strict=False)]
        )
        for res in live.results:
            live.publish(res)
        with self._lock:
            self._runs[run.run_id] = live
            finished = [k for k, v in self._runs.items() if v.done]
            for old in finished[: max(0, len(self._runs) - self._keep)]:
                del self._runs[old]
        threading.Thread(
            target=self._work, args=(live, catalog, store), name=f"bakeoff-run-{run.run_id}", daemon=True
        ).start()
        return live

    @staticmethod
    def _work(live: LiveRun, catalog: Catalog, store: Store | None) -> None:
        try:
            asyncio.run(
                execute(
                    live.run,
                    live.specs,
                    catalog,
                    store,
                    results=live.results,
                    on_update=live.publish,
                    cancel=live.cancel,
                )
            )
        except Exception as exc:  # surfaced on the page, never as a traceback
            log.exception("run %s failed", live.run.run_id)
            live.failure = f"{type(exc).__name__}: {exc}"
        finally:
            for res in live.results:
                live.publish(res)
            live.finished.set()

    def get(self, run_id: str) -> LiveRun | None:
        with self._lock:
            return self._runs.get(run_id)


@dataclass
class LiveJudging:
    """A judging running on its own thread; pages poll `progress` and read saved judgments from the store."""

    run_id: str
    batch_id: str
    settings: JudgeSettings
    progress: Progress
    judgments: list[Judgment] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failure: str | None = None

    def add(self, j: Judgment) -> None:
        with self.lock:
            self.judgments.append(j)

    def snapshot(self) -> list[Judgment]:
        with self.lock:
            return list(self.judgments)

    @property
    def done(self) -> bool:
        return self.finished.is_set()


class LiveJudgings:
    """Process-wide registry of judgings, at most one in flight per run."""

    def __init__(self, keep: int = 50):
        self._jobs: dict[str, LiveJudging] = {}  # run_id -> latest judging of that run
        self._lock = threading.Lock()
        self._keep = keep

    def start(
        self, run: Run, results: list[Result], settings: JudgeSettings, catalog: Catalog, store: Store | None
    ) -> LiveJudging:
        """Validate synchronously (raises InvalidJudging), then judge on a background thread."""
        spec = prepare_judge(settings, catalog)
        total = calls_needed(results, settings.mode)
        with self._lock:
            current = self._jobs.get(run.run_id)
            if current is not None and not current.done:
                raise InvalidJudging("This run is already being judged; wait for it to finish or stop it.")
            job = LiveJudging(run.run_id, new_id(), settings, Progress(total=total))
            self._jobs[run.run_id] = job
            finished = [k for k, v in self._jobs.items() if v.done]
            for old in finished[: max(0, len(self._jobs) - self._keep)]:
                del self._jobs[old]
        threading.Thread(
            target=self._work,
            args=(job, run, list(results), spec, catalog, store),
            name=f"bakeoff-judge-{run.run_id}",
            daemon=True,
        ).start()
        return job

    @staticmethod
    def _work(
        job: LiveJudging, run: Run, results: list[Result], spec: ModelSpec, catalog: Catalog, store: Store | None
    ) -> None:
        try:
            asyncio.run(
                judge_run(
                    run,
                    results,
                    job.settings,
                    catalog,
                    store,
                    spec=spec,
                    batch_id=job.batch_id,
                    on_judgment=job.add,
                    progress=job.progress,
                    cancel=job.cancel,
                )
            )
        except Exception as exc:
            log.exception("judging run %s failed", run.run_id)
            job.failure = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished.set()

    def get(self, run_id: str) -> LiveJudging | None:
        with self._lock:
            return self._jobs.get(run_id)
