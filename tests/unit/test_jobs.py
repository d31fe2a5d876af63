"""The engine loop and the one Jobs registry: every job on the process's loop, failures kept, one at a time;
the loop's poll stamps."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest

from bakeoff.jobs.registry import Job, Jobs
from bakeoff.jobs.runs import RunJob, start_run
from bakeoff.records import Run
from bakeoff.runner.loop import EngineLoop, PollStampingLoop, engine, polled_ns
from tests.conftest import scripted_catalog


@dataclass(kw_only=True, eq=False)
class Probe(Job):
    where: list = field(default_factory=list)


async def _record(job: Probe) -> None:
    job.where.append((threading.current_thread().name, asyncio.get_running_loop()))


async def _until_cancelled(job: Probe) -> None:
    while not job.cancel.is_set():
        await asyncio.sleep(0.01)


async def _boom(job: Probe) -> None:
    raise ValueError("boom")


def test_every_job_runs_on_the_one_engine_loop():
    jobs = Jobs()
    probes = [jobs.start(Probe(key=str(i)), _record) for i in range(3)]
    for p in probes:
        assert p.finished.wait(5) and p.failure is None
    assert {p.where[0] for p in probes} == {("bakeoff-engine", engine().loop)}


def test_a_run_job_publishes_copies_and_ends_done(scripted):
    cat = scripted_catalog(a={"chunks": ["x", "y"]}, b={"chunks": ["z"]})
    jobs = Jobs()
    job = start_run(jobs, Run(prompt="p", model_refs=["a", "b"]), cat, None)
    assert jobs.get(RunJob, job.run.run_id) is job
    assert job.finished.wait(10) and job.failure is None
    snap = job.snapshot()
    assert [(r.status, r.output) for r in snap] == [("ok", "xy"), ("ok", "z")]
    assert all(s is not r for s, r in zip(snap, job.results, strict=True))  # copies, not the loop's objects


def test_a_failing_job_says_why_and_is_done():
    job = Jobs().start(Probe(key="x"), _boom)
    assert job.finished.wait(5) and job.failure == "ValueError: boom"


def test_one_at_a_time_per_key_or_per_kind():
    jobs = Jobs()
    first = jobs.start(Probe(key="a"), _until_cancelled, one_at_a_time="per key")
    with pytest.raises(LookupError, match="busy"):
        jobs.start(Probe(key="a"), _record, one_at_a_time="per key", refusal=LookupError("busy"))
    other_key = jobs.start(Probe(key="b"), _record, one_at_a_time="per key")  # another key may run
    assert other_key.finished.wait(5)
    with pytest.raises(LookupError, match="one lab"):
        jobs.start(Probe(key="c"), _record, one_at_a_time="per kind", refusal=LookupError("one lab"))
    first.cancel.set()
    assert first.finished.wait(5)
    assert jobs.start(Probe(key="a"), _record, one_at_a_time="per kind").finished.wait(5)


def test_kinds_do_not_mix_and_old_finished_jobs_are_forgotten():
    jobs = Jobs(keep=2)
    done = [jobs.start(Probe(key=str(i)), _record) for i in range(4)]
    for p in done:
        assert p.finished.wait(5)
    jobs.start(Probe(key="last"), _record).finished.wait(5)
    assert jobs.get(Probe, "0") is None and jobs.get(Probe, "last") is not None
    assert jobs.get(RunJob, "last") is None  # same key, other kind


def test_run_waits_for_the_answer_and_raises_its_error():
    loop = EngineLoop(name="bakeoff-test-loop")

    async def answer() -> int:
        return 42

    async def fail() -> None:
        raise KeyError("missing")

    assert loop.run(answer()) == 42
    with pytest.raises(KeyError, match="missing"):
        loop.run(fail())


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals go to the main thread")
def test_ctrl_c_while_waiting_cancels_the_coroutine_and_lets_it_clean_up():
    loop = EngineLoop(name="bakeoff-test-loop")
    cleaned = threading.Event()
    started = threading.Event()

    async def long() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.set()

    main = threading.main_thread().ident
    threading.Thread(target=lambda: started.wait(5) and signal.pthread_kill(main, signal.SIGINT), daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        loop.run(long())
    assert cleaned.is_set()


def test_run_on_the_loop_itself_is_refused():
    loop = EngineLoop(name="bakeoff-test-loop")

    async def nested() -> None:
        async def inner() -> None:
            return None

        loop.run(inner())

    with pytest.raises(RuntimeError, match="await the coroutine instead"):
        loop.run(nested())


def test_the_engine_loop_stamps_each_poll_so_a_read_is_never_billed_another_models_decoding():
    loop = PollStampingLoop()
    left, right = socket.socketpair()

    async def main() -> tuple[int, int, int, int]:
        reader, _ = await asyncio.open_connection(sock=left)  # a protocol, as httpx's anyio backend reads
        written = time.perf_counter_ns()
        right.send(b"text")
        assert await reader.read(16) == b"text"
        time.sleep(0.05)  # another model's SDK decoding its chunk in the same loop turn
        now = time.perf_counter_ns()
        stamp = polled_ns(loop, now)
        await asyncio.sleep(0)
        return written, stamp, now, loop.polled_ns

    try:
        written, stamp, now, next_poll = loop.run_until_complete(main())
    finally:
        loop.close()
        left.close()
        right.close()
    assert written <= stamp <= now - 50_000_000  # after the bytes were sent, before the decoding
    assert next_poll > now  # every turn polls again
    assert polled_ns(asyncio.new_event_loop(), now) == now  # a plain loop: the caller's own stamp
