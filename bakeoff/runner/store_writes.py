"""Store writes off the event loop: one writer thread per process, first in, first out.

A save (SQLite or PostgreSQL: milliseconds to tens of them) done on the loop stalls every model streaming on
it, and their stamps with it. One thread rather than a pool keeps each run's writes in the order they were
made (its row, each result as it lands, then its status) and never has two writers contend for SQLite's lock.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bakeoff-store-writer")


def write(fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Queue `fn(*args)` on the writer thread; await the future for its result (or its exception)."""
    return asyncio.get_running_loop().run_in_executor(_WRITER, functools.partial(fn, *args))
