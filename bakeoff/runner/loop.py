"""The process's engine loop: one asyncio loop on one daemon thread, started on first use.

Every run, batch, judging and lab job of a process shares it, so what must be shared is (the cap of calls
in flight, the rate limiters, the SDK clients and their connections), and nothing pays for a fresh loop per
job. Any thread hands it a coroutine: `submit` for a job the caller polls, `run` to wait for the answer.

The loop also remembers when its latest I/O poll returned (`polled_ns`). A transport built on an asyncio
protocol (httpx's anyio backend is) hands a task only bytes that a poll's callbacks took off the socket, so
they were in by then: when eight answers arrive together, each is stamped at that poll, not after the other
seven SDKs have decoded theirs (bakeoff/runner/attempts.py; bench/timing_truth.py measures it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

CLEANUP_S = 5.0  # after Ctrl-C in `run`, how long the coroutine may take to record what it was doing


class PollStampingLoop(asyncio.SelectorEventLoop):
    """A selector loop that stamps (perf_counter_ns) the return of each I/O poll, before its callbacks run."""

    polled_ns: int | None = None

    def _process_events(self, event_list: list) -> None:  # called once per iteration, right after select()
        self.polled_ns = time.perf_counter_ns()
        super()._process_events(event_list)


def polled_ns(loop: asyncio.AbstractEventLoop, now: int) -> int:
    """The latest poll's stamp if the loop keeps one and it is not after `now`, else `now`."""
    polled = getattr(loop, "polled_ns", None)
    return polled if polled is not None and polled <= now else now


class EngineLoop:
    """One event loop on its own daemon thread; thread-safe to start and submit to."""

    def __init__(self, name: str = "bakeoff-engine") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, started on first use."""
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                ready = threading.Event()
                loop = PollStampingLoop()
                self._thread = threading.Thread(target=self._serve, args=(loop, ready), name=self._name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    def on_loop(self) -> bool:
        """True when called from the loop's own thread (where `run` would deadlock)."""
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `coro` on the loop from any thread (its own included); its future is thread-safe."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for its result, from a thread other than the loop's.

        A KeyboardInterrupt while waiting cancels the coroutine and gives it CLEANUP_S to record how it
        ended (a run marks itself interrupted), as asyncio.run would, before the interrupt goes on.
        """
        if self.on_loop():
            coro.close()
            raise RuntimeError("EngineLoop.run called on the engine loop itself; await the coroutine instead")
        ended = threading.Event()

        async def guarded() -> T:
            try:
                return await coro
            finally:
                ended.set()

        future = self.submit(guarded())
        try:
            return future.result()
        except BaseException:
            if not future.done():
                future.cancel()
                ended.wait(CLEANUP_S)
            raise


_ENGINE = EngineLoop()


def engine() -> EngineLoop:
    """The process-wide engine loop (the dashboard, the CLI and the blocking helpers all use this one)."""
    return _ENGINE
