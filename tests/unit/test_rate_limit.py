"""Rate limiter: even request spacing, a token bucket, 429 pauses; the runner acquires before every attempt."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from bakeoff.catalog.config import CatalogEntry, RateLimit
from bakeoff.jobs.registry import Jobs
from bakeoff.jobs.runs import start_run
from bakeoff.records import Params, Run
from bakeoff.runner.engine import prepare
from bakeoff.runner.fan_out import RetryPolicy, fan_out
from bakeoff.runner.rate_limit import RateLimiter, limiters_for
from tests.conftest import scripted_catalog

FAST = RetryPolicy(base_s=0.01, cap_s=0.02)


def _times(limiter: RateLimiter, n: int, tokens: int = 0) -> list[float]:
    async def go():
        t0, out = time.monotonic(), []

        async def one():
            await limiter.acquire(tokens)
            out.append(time.monotonic() - t0)

        await asyncio.gather(*(one() for _ in range(n)))
        return sorted(out)

    return asyncio.run(go())


def test_requests_are_spaced_evenly():
    times = _times(RateLimiter(requests_per_minute=1200), 6)  # one slot per 50 ms
    assert times[0] < 0.02
    # never ahead of the schedule (a late wake-up may make up its slot, so a gap can be shorter)
    assert all(t >= k * 0.05 - 0.002 for k, t in enumerate(times)), times
    assert times[-1] == pytest.approx(0.25, abs=0.08)


def test_token_bucket_charges_the_request_size():
    limiter = RateLimiter(tokens_per_minute=6000)  # 100 tokens/s, holds one second's worth
    times = _times(limiter, 3, tokens=50)  # 100 in the bucket: two go now, the third waits 0.5 s
    assert times[1] < 0.05 and times[2] == pytest.approx(0.5, abs=0.06)


def test_a_request_bigger_than_the_bucket_goes_and_the_next_waits_off_the_debt():
    limiter = RateLimiter(tokens_per_minute=6000)
    times = _times(limiter, 2, tokens=150)  # first goes at once (bucket full), leaving -50: next waits 1.5 s
    assert times[0] < 0.05 and times[1] == pytest.approx(1.5, abs=0.1)


def test_pause_holds_every_waiter():
    limiter = RateLimiter(requests_per_minute=60000)
    limiter.pause(0.3)
    times = _times(limiter, 3)
    assert times[0] >= 0.29 and limiter.stats.paused_s == pytest.approx(0.3)


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        RateLimiter(requests_per_minute=0)
    with pytest.raises(ValidationError):
        RateLimit(requests_per_minute=-5)
    with pytest.raises(ValidationError):
        CatalogEntry(provider="openai", model="m", kind="commercial", rate_limit={"rpm": 5})


def test_limiters_for_shares_a_group_and_skips_unlimited():
    cat = scripted_catalog(a={}, b={}, c={}, d={})
    org = RateLimit(requests_per_minute=10, group="org")
    for name, limit in (("a", org), ("b", org), ("c", RateLimit(tokens_per_minute=100))):
        cat.entries[name] = cat.entries[name].model_copy(update={"rate_limit": limit})
    run = Run(prompt="p", model_refs=["a", "b", "c", "d"])
    lim = limiters_for(cat, prepare(run, cat))
    assert lim["a"] is lim["b"] and lim["c"] is not lim["a"] and "d" not in lim
    assert (lim["c"].rpm, lim["c"].tpm) == (None, 100)


def test_runner_acquires_before_every_attempt_and_a_429_pauses_the_limiter(scripted):
    cat = scripted_catalog(m={"fail": "RateLimited", "http_status": 429, "fail_times": 2, "retry_after": 0.1})
    run = Run(prompt="Say hi", model_refs=["m"], params=Params(max_tokens=20))
    limiter = RateLimiter(requests_per_minute=60000, tokens_per_minute=10**6)
    (res,) = asyncio.run(fan_out(run, prepare(run, cat), cat, policy=RetryPolicy(base_s=0.01), limiters={"m": limiter}))
    assert res.status == "ok" and res.attempts == 3
    assert limiter.stats.acquired == 3  # retries included
    assert limiter.stats.paused_s == pytest.approx(0.2)  # two 429s, each retry-after 0.1 s


def test_a_pool_keeps_one_limiter_per_budget_across_calls():
    cat = scripted_catalog(a={}, b={})
    for name in ("a", "b"):
        cat.entries[name] = cat.entries[name].model_copy(update={"rate_limit": RateLimit(requests_per_minute=10)})
    specs = prepare(Run(prompt="p", model_refs=["a", "b"]), cat)
    pool: dict = {}
    first, again = limiters_for(cat, specs, pool), limiters_for(cat, specs, pool)
    assert first["a"] is again["a"] and first["b"] is again["b"] and first["a"] is not first["b"]
    assert limiters_for(cat, specs)["a"] is not first["a"]  # no pool: fresh limiters
    cat.entries["a"] = cat.entries["a"].model_copy(update={"rate_limit": RateLimit(requests_per_minute=20)})
    assert limiters_for(cat, specs, pool)["a"] is not first["a"]  # an edited limit is a fresh budget


def test_two_runs_on_the_engine_loop_share_the_cap_of_calls_in_flight(scripted, monkeypatch):
    monkeypatch.setenv("BAKEOFF_MAX_CONCURRENT_CALLS", "3")
    cat = scripted_catalog(**{f"m{i}": {"first_delay": 0.3} for i in range(6)})
    jobs = Jobs()
    halves = (["m0", "m1", "m2"], ["m3", "m4", "m5"])
    runs = [start_run(jobs, Run(prompt="p", model_refs=refs), cat, None) for refs in halves]
    for job in runs:
        assert job.finished.wait(20) and job.failure is None
    assert [r.status for job in runs for r in job.snapshot()] == ["ok"] * 6
    assert scripted.max_active == 3  # per run, each would have had its 3 out at once: 6


def test_a_429_retry_after_pauses_that_provider_for_every_run_on_the_loop(scripted):
    cat = scripted_catalog(a={"fail": "RateLimited", "http_status": 429, "fail_times": 1, "retry_after": 0.5}, b={})
    org = RateLimit(requests_per_minute=60000, group="org")
    for name in ("a", "b"):
        cat.entries[name] = cat.entries[name].model_copy(update={"rate_limit": org})
    run_a, run_b = Run(prompt="p", model_refs=["a"]), Run(prompt="p", model_refs=["b"])

    async def go():
        second: list[asyncio.Task] = []
        paused_at: list[int] = []

        def on_update(res):  # called in the same loop turn as the limiter's pause
            if res.progress.startswith("RateLimited") and not second:
                paused_at.append(time.perf_counter_ns())
                second.append(asyncio.create_task(fan_out(run_b, prepare(run_b, cat), cat, policy=FAST)))

        (a,) = await fan_out(run_a, prepare(run_a, cat), cat, policy=FAST, on_update=on_update)
        (b,) = await second[0]
        return a, b, paused_at[0]

    a, b, paused_at = asyncio.run(go())
    assert (a.status, a.attempts, b.status) == ("ok", 2, "ok")
    assert b.sent_ns - paused_at >= 0.5e9  # run B's call to the same budget waited out run A's 429
