"""The in-process models' CPU turn (providers/hf_lock.py): who holds it, what a waiter is told, and that
a wait given up holds nothing. The two-model behaviour is in tests/local/test_transformers_local.py."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from providers.base import Status
from providers.hf_lock import CpuTurn


def test_hold_names_the_holder_and_frees_it() -> None:
    turn = CpuTurn()
    with turn.hold("gemma-3-270m is loading"):
        assert turn.locked() and turn.holder == "gemma-3-270m is loading"
        assert not turn.acquire("other", blocking=False)
    assert not turn.locked() and turn.holder == ""


def test_a_waiter_is_told_whom_it_waits_for_each_time_that_changes() -> None:
    turn = CpuTurn()
    turn.acquire("gemma-3-270m is loading")
    statuses: list[str] = []

    async def wait() -> None:
        async for status in turn.take("smollm2 is generating"):
            assert isinstance(status, Status)
            statuses.append(status.message)

    async def main() -> None:
        waiter = asyncio.create_task(wait())
        await asyncio.sleep(0.1)
        turn.holder = "llm-x is generating"  # another model took over without a gap the waiter could use
        threading.Timer(0.1, turn.release).start()
        await asyncio.wait_for(waiter, 5)

    asyncio.run(main())
    assert turn.locked() and turn.holder == "smollm2 is generating"  # take() ends holding the turn
    assert statuses[0] == (
        "waiting for the CPU: gemma-3-270m is loading (local models take turns so each is timed fairly)"
    )
    assert "llm-x is generating" in statuses[-1] and len(statuses) == 2


def test_wait_until_free_takes_nothing_and_a_free_turn_says_nothing() -> None:
    turn = CpuTurn()

    async def wait() -> list[Status]:
        return [s async for s in turn.take("x is loading", keep=False)]

    assert asyncio.run(wait()) == [] and not turn.locked()


def test_a_cancelled_wait_holds_nothing() -> None:
    turn = CpuTurn()
    turn.acquire("gemma-3-270m is loading")

    async def main() -> None:
        async def wait() -> None:
            async for _ in turn.take("smollm2 is generating"):
                pass

        waiter = asyncio.create_task(wait())
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

    asyncio.run(main())
    turn.release()
    assert turn.acquire("next", blocking=False)  # nobody else got it


@pytest.mark.parametrize(("given", "seen"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_wait_passively_unless_the_user_said_otherwise(given: str | None, seen: str) -> None:
    """Spinning OpenMP threads starve each other on shared cores (bench/omp_wait_policy.py); set before torch loads."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = (
        "import os, sys; import providers.transformers_local, providers.embedder; "
        "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == [seen, "False"]  # set, and torch not loaded yet: libgomp will read it


def test_hand_over_runs_on_its_own_thread_and_frees_the_turn_when_done() -> None:
    turn = CpuTurn()
    seen: list[tuple[str, bool]] = []

    def load(x: int) -> int:
        seen.append((threading.current_thread().name, turn.locked()))
        return x * 2

    async def main() -> int:
        async for _ in turn.take("m is loading"):
            pass
        return await turn.hand_over(load, 21, name="bakeoff-load[m]")

    assert asyncio.run(main()) == 42
    assert seen == [("bakeoff-load[m]", True)] and not turn.locked()


def test_a_handed_over_load_keeps_the_turn_until_it_ends_even_if_its_caller_is_cancelled() -> None:
    """A load cannot be stopped midway: no other model may take the turn (and generate) before it ends."""
    turn = CpuTurn()
    started, finish = threading.Event(), threading.Event()

    def load() -> None:
        started.set()
        finish.wait(5)

    async def main() -> bool:
        async def caller() -> None:
            async for _ in turn.take("gemma is loading"):
                pass
            await turn.hand_over(load, name="bakeoff-load[gemma]")

        task = asyncio.create_task(caller())
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        still_held = turn.locked() and not turn.acquire("smollm2 is generating", blocking=False)
        finish.set()
        await asyncio.to_thread(lambda: turn.acquire("smollm2 is generating", timeout=5) and turn.release())
        return still_held

    assert asyncio.run(main()) is True
    assert not turn.locked()


def test_a_failed_load_frees_the_turn_and_reaches_the_caller() -> None:
    turn = CpuTurn()

    def load() -> None:
        raise MemoryError("can't allocate")

    async def main() -> None:
        async for _ in turn.take("m is loading"):
            pass
        await turn.hand_over(load, name="bakeoff-load[m]")

    with pytest.raises(MemoryError):
        asyncio.run(main())
    assert not turn.locked()
