"""Stay under a provider's requests/min and tokens/min, so a large batch runs at the limit without 429s.

Requests are spaced evenly (60 / rpm seconds apart) rather than sent in a burst at the top of each
minute: providers enforce limits over sub-minute windows too (OpenAI documents that 60,000 rpm may
be enforced as 1,000 per second). Tokens come from a bucket refilled at tpm / 60 per second that
holds at most one second's worth; a request is charged its estimated size (prompt tokens +
max_tokens, as OpenAI counts a request against its token limit) and may take the bucket into debt,
so a request larger than one second's allowance still goes, and the next ones wait it off.

A 429 that names `retry-after` pauses the whole limiter, so every other call on that budget (other cells
of the batch, other runs on the same loop: bakeoff/runner/limits.py) stops hammering that provider too.
Every attempt acquires, retries included.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bakeoff.catalog.config import Catalog, RateLimit
from providers.base import ModelSpec


@dataclass
class LimiterStats:
    acquired: int = 0
    waited_s: float = 0.0  # total time attempts spent waiting here
    paused_s: float = 0.0  # total pause requested by 429 retry-after


class RateLimiter:
    """Requests/min and tokens/min for one provider budget; asyncio, one event loop."""

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        *,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
    ):
        if requests_per_minute is not None and requests_per_minute <= 0:
            raise ValueError(f"requests_per_minute must be positive, got {requests_per_minute}")
        if tokens_per_minute is not None and tokens_per_minute <= 0:
            raise ValueError(f"tokens_per_minute must be positive, got {tokens_per_minute}")
        self.name = name
        self.rpm = requests_per_minute
        self.tpm = tokens_per_minute
        self._clock = clock
        self._interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next_at = -float("inf")  # earliest time the next request may go
        self._tok_rate = tokens_per_minute / 60.0 if tokens_per_minute else 0.0
        self._tok_cap = self._tok_rate  # one second's worth
        self._tokens = self._tok_cap
        self._tok_at = clock()
        self._paused_until = -float("inf")
        self._lock: asyncio.Lock | None = None
        self.stats = LimiterStats()

    @classmethod
    def from_config(cls, limit: RateLimit, name: str = "") -> RateLimiter:
        return cls(limit.requests_per_minute, limit.tokens_per_minute, name=name)

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` (a 429's retry-after); a longer pause already set wins."""
        if seconds and seconds > 0:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
            self.stats.paused_s += seconds

    def _refill(self, now: float) -> None:
        if self._tok_rate:
            self._tokens = min(self._tok_cap, self._tokens + (now - self._tok_at) * self._tok_rate)
        self._tok_at = now

    def _wait_needed(self, now: float, tokens: int) -> float:
        wait = max(0.0, self._paused_until - now, self._next_at - now)
        if self._tok_rate:
            self._refill(now)
            need = min(tokens, self._tok_cap)
            if self._tokens < need:
                wait = max(wait, (need - self._tokens) / self._tok_rate)
        return wait

    async def acquire(self, tokens: int = 0) -> float:
        """Wait until one request of about `tokens` tokens may go; returns the seconds waited.

        Waiters are served in arrival order (asyncio.Lock is fair), so no cell starves.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        start = self._clock()
        async with self._lock:
            while (wait := self._wait_needed(self._clock(), tokens)) > 0:
                await asyncio.sleep(wait)
            now = self._clock()
            if self._interval:
                # keep to the schedule (a late wake-up is made up on the next slot), restart it after idling
                nxt = self._next_at + self._interval
                self._next_at = nxt if nxt >= now else now + self._interval
            if self._tok_rate:
                self._tokens -= tokens
        waited = self._clock() - start
        self.stats.acquired += 1
        self.stats.waited_s += waited
        return waited


Limiters = Mapping[str, RateLimiter]  # spec.id -> its limiter
LimiterPool = dict[tuple[str, float | None, float | None], RateLimiter]  # (budget, rpm, tpm) -> its limiter


def limiters_for(
    catalog: Catalog, specs: Sequence[ModelSpec], pool: LimiterPool | None = None
) -> dict[str, RateLimiter]:
    """One limiter per rate-limit budget among these models, keyed by spec.id (a group shares one).

    Limiters already in `pool` are reused and new ones added to it, so every job drawing on one pool shares a
    budget's spacing and its 429 pauses; keyed with the limits too, so an edited limit starts a fresh budget.
    """
    pool = {} if pool is None else pool
    out: dict[str, RateLimiter] = {}
    for spec in specs:
        entry = catalog.entries.get(spec.id)
        limit = entry.rate_limit if entry is not None else None
        if limit is None or (limit.requests_per_minute is None and limit.tokens_per_minute is None):
            continue
        name = limit.group or spec.id
        key = (name, limit.requests_per_minute, limit.tokens_per_minute)
        if key not in pool:
            pool[key] = RateLimiter.from_config(limit, name=name)
        out[spec.id] = pool[key]
    return out
