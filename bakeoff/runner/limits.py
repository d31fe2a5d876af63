"""What every job on one event loop shares: the cap of model calls in flight and one rate limiter per budget.

Per loop, not per run: comparisons, batches and judgings on the engine loop (bakeoff/runner/loop.py) together
never have more than BAKEOFF_MAX_CONCURRENT_CALLS calls in flight, and a provider's 429 retry-after pauses
that provider's budget for all of them. Kept per loop because asyncio primitives belong to the loop that first
used them; a test or a bench on its own asyncio.run gets its own set.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

from bakeoff.catalog.config import Catalog
from bakeoff.runner.rate_limit import LimiterPool, RateLimiter, limiters_for
from bakeoff.runner.validation import limit
from providers.base import ModelSpec

MAX_CONCURRENT_CALLS = 32  # model calls in flight at once on one loop, all jobs together


@dataclass
class _Shared:
    gates: dict[int, asyncio.Semaphore] = field(default_factory=dict)  # cap -> its semaphore
    limiters: LimiterPool = field(default_factory=dict)


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Shared] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _shared() -> _Shared:
    loop = asyncio.get_running_loop()
    with _LOCK:
        shared = _BY_LOOP.get(loop)
        if shared is None:
            shared = _BY_LOOP[loop] = _Shared()
        return shared


def call_gate() -> asyncio.Semaphore:
    """This loop's cap of calls in flight, at the size BAKEOFF_MAX_CONCURRENT_CALLS sets now."""
    size = int(limit("MAX_CONCURRENT_CALLS", MAX_CONCURRENT_CALLS))
    gates = _shared().gates
    if size not in gates:
        gates[size] = asyncio.Semaphore(size)
    return gates[size]


def shared_limiters(catalog: Catalog, specs: Sequence[ModelSpec]) -> dict[str, RateLimiter]:
    """This loop's rate limiters for these models (spec.id -> limiter); models without a limit have none."""
    return limiters_for(catalog, specs, _shared().limiters)
