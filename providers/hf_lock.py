"""Process-wide locks of the in-process models: one for loading code and weights, one CPU turn.

LOAD_LOCK: transformers loads weights under process-global state (default dtype, init-skipping and
weight-tying context managers), and torch/transformers import lazily. Two threads loading at
once were seen to produce half-initialised modules ("partially initialized module") and, worse,
a model whose tied lm_head was left randomly initialised, so it answered gibberish. The
in-process providers and the sentence embedder (providers/embedder.py) all load under it.

CPU_TURN: in-process models (transformers and llama.cpp) share this machine's cores, so loading
weights and generating both take this one turn: a model timed while another loads or generates
would misreport both (on first use of the two bundled models, SmolLM2 generating beside Gemma's
load stored 3.55 s TTFT and 1.9 tok/s instead of 0.23 s and 13.6 tok/s). A model that waits says
what it waits for; its clock starts at its own Sent, once it has the turn. Remote models run
concurrently. Lock order, where several are taken: a model's own key lock, CPU_TURN, LOAD_LOCK.

OMP_WAIT_POLICY=PASSIVE (unless the user set a policy), before torch loads: libgomp's threads spin
while they wait for each other, and on cores shared with anything else (this process's event loop,
the dashboard, other programs) a spinning thread starves the one it waits for. On a busy 2-core
machine SmolLM2's TTFT went from 0.3 s to 4.6-6 s; on 2 cores with 3 other busy processes, three
short generations did not finish in 60 s (0.28 s prefill, 9.7 tok/s passive). Idle, passive waiting
costs ~11% of decode tok/s (21.7 -> 19.3) and speeds prefill up (156 -> 134 ms): bench/omp_wait_policy.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from providers.base import Status

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read by libgomp when torch first loads it

LOAD_LOCK = threading.RLock()


def import_stack() -> None:
    """Import torch and transformers (seconds, once), under LOAD_LOCK: two threads importing them at once
    see half-initialised modules."""
    with LOAD_LOCK:
        import torch  # noqa: F401
        from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

_POLL_S = 0.01  # how often an async waiter retries the turn
T = TypeVar("T")


class CpuTurn:
    """A lock that names its holder ("gemma-3-270m is loading"), so a waiting model can say why it waits.

    Not reentrant, and any thread may release it: generation takes it on the event loop and the worker
    thread that generates releases it when it stops.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.holder = ""

    def acquire(self, holder: str = "another model", blocking: bool = True, timeout: float = -1) -> bool:
        if not self._lock.acquire(blocking, timeout):
            return False
        self.holder = holder
        return True

    def release(self) -> None:
        self.holder = ""
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> CpuTurn:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @contextmanager
    def hold(self, holder: str) -> Iterator[None]:
        """Blocking, for worker threads (a load)."""
        self.acquire(holder)
        try:
            yield
        finally:
            self.release()

    async def take(self, holder: str, *, keep: bool = True, device: str = "the CPU") -> AsyncIterator[Status]:
        """Wait for the turn without blocking the event loop, yielding a Status each time the one ahead changes.

        keep=True ends holding the turn; keep=False only waits until it is free, for a worker thread that
        takes it itself (a load, which cannot be stopped midway, so it must own its release). Polled, so a
        cancelled wait holds nothing.
        """
        ahead: str | None = None
        while not self.acquire(holder, blocking=False):
            if self.holder != ahead:
                ahead = self.holder
                who = ahead or "another model"
                yield Status(f"waiting for {device}: {who} (local models take turns so each is timed fairly)")
            await asyncio.sleep(_POLL_S)
        if not keep:
            self.release()

    async def hand_over(self, fn: Callable[..., T], *args: Any, name: str) -> T:
        """fn(*args) on a thread of its own that owns the turn the caller took, and releases it when fn returns.

        Whatever becomes of the caller (cancelled, closed): a load cannot be stopped midway, and no model
        may generate beside it. Not the default executor: a job cancelled while queued would never release.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if not done.done():  # a cancelled caller stopped listening
                done.set_exception(error) if error is not None else done.set_result(result)

        def job() -> None:
            result, error = None, None
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to the caller
                error = exc
            finally:
                self.release()
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(settle, result, error)

        try:
            threading.Thread(target=job, name=name, daemon=True).start()
        except BaseException:
            self.release()
            raise
        return await done


CPU_TURN = CpuTurn()
