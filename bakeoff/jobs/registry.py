"""One registry for every background job of the process: runs, repeat series, judgings, batches, lab runs.

Streamlit stops a script on any widget interaction, so work streamed from inside the script would be lost.
Instead each job is a coroutine on the process's engine loop (bakeoff/runner/loop.py); after every event it
publishes a copy of its progress under the job's lock, and the pages poll those copies (tested in Chromium:
clicking mid-run loses no stream). The registry is shared by every browser session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from bakeoff.runner.loop import EngineLoop, engine

log = logging.getLogger(__name__)

J = TypeVar("J", bound="Job")

KEEP = 50  # finished jobs remembered per kind, for pages that come back to them


@dataclass(kw_only=True, eq=False)
class Job:
    """What every job has: its key, a cancel switch, whether it ended, and why it failed if it did.

    `failure` is set only when the job itself failed (not a model: a model's failure is data on its result).
    """

    key: str
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failure: str | None = None
    future: concurrent.futures.Future[None] | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    async def wait(self) -> None:
        """Await the end of this job from a coroutine on the engine loop."""
        if self.future is not None:
            await asyncio.wrap_future(self.future)


class Jobs:
    """Process-wide jobs by kind and key; each runs on the engine loop and is polled by pages."""

    def __init__(self, loop: EngineLoop | None = None, keep: int = KEEP) -> None:
        self._engine = loop or engine()
        self._jobs: dict[tuple[type[Job], str], Job] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def start(
        self,
        job: J,
        work: Callable[[J], Coroutine[Any, Any, Any]],
        *,
        one_at_a_time: Literal["per key", "per kind"] | None = None,
        refusal: Exception | None = None,
    ) -> J:
        """Register `job` and run `work(job)` on the engine loop; returns at once.

        one_at_a_time: refuse (raise `refusal`) while a job of this kind, or of this kind and key, is in flight.
        """
        kind = type(job)
        with self._lock:
            if one_at_a_time is not None:
                busy = [
                    j
                    for (k, key), j in self._jobs.items()
                    if k is kind and not j.done and (one_at_a_time == "per kind" or key == job.key)
                ]
                if busy:
                    raise refusal or RuntimeError(f"a {kind.__name__} is already running")
            self._jobs[(kind, job.key)] = job
            finished = [k for k, j in self._jobs.items() if k[0] is kind and j.done]
            alive = sum(k[0] is kind for k in self._jobs)
            for old in finished[: max(0, alive - self._keep)]:
                del self._jobs[old]
            job.future = self._engine.submit(self._supervise(job, work(job)))
        return job

    @staticmethod
    async def _supervise(job: Job, work: Coroutine[Any, Any, Any]) -> None:
        """Run the job; whatever it raises becomes its `failure` (shown on the page, never as a traceback)."""
        try:
            await work
        except asyncio.CancelledError:
            job.failure = job.failure or "stopped: the engine shut down"
            raise
        except Exception as exc:
            log.exception("%s %s failed", type(job).__name__, job.key)
            job.failure = job.failure or f"{type(exc).__name__}: {exc}"
        finally:
            job.finished.set()

    def get(self, kind: type[J], key: str) -> J | None:
        with self._lock:
            job = self._jobs.get((kind, key))
        return job if isinstance(job, kind) else None
