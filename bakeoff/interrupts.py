"""Ctrl-C for the CLI: each press takes the next step of a graceful stop instead of a traceback.

Python's default SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be, which
loses the text already streamed. Here each press runs the next step (say, stop starting calls, then
abort the ones in flight); a press after the last step raises KeyboardInterrupt as usual. asyncio.run
leaves a handler other than the default in place, so this works around an event loop too.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def steps_on_sigint(*steps: Callable[[], None]) -> Iterator[None]:
    """Within the block, the n-th Ctrl-C runs steps[n-1]; the handler before it is restored on exit."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield
        return
    pending = list(steps)
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: object) -> None:
        if not pending:
            raise KeyboardInterrupt
        pending.pop(0)()

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
