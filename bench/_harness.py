"""What every bench script shares: the machine line, robust statistics, and fake servers that run
in their own process and record when they actually wrote each byte.

Why a separate process: a fake server on a thread of the measuring process shares its GIL, so a
server thread woken from its scripted sleep can wait up to `sys.getswitchinterval()` (5 ms) for
the client's event loop to let go, and the client's stamps then include the *server's* lateness.
A real provider never shares our interpreter, so the benches fork one process per server.

Timestamps: `time.perf_counter_ns()` is CLOCK_MONOTONIC on Linux, one clock for every process on
the machine, so the server's stamps and Bakeoff's stamps can be subtracted directly.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/x.py` from anywhere

from tests.fakes.server import FakeServer, Recorded, Reply  # noqa: E402


def machine() -> str:
    """One line naming the machine and how busy it is right now."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} "
        f"{platform.release()}; load average {load} (1/5/15 min) at {now()}"
    )


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p99(values: Sequence[float]) -> float:
    """Nearest-rank 99th percentile (for 200 values: the 2nd largest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-99 * len(ordered) // 100))  # ceil(0.99 n)
    return ordered[rank - 1]


def verdict(ok: bool, detail: str = "") -> str:
    return ("met" if ok else "**missed**") + (f" ({detail})" if detail else "")


# ---- fake servers with write stamps -----------------------------------------------------------


@dataclass
class Stamps:
    """One request as the server saw it: when its body was read, and when each write went out."""

    path: str
    arrived_ns: int
    writes_ns: list[int]  # [headers, frame 0, frame 1, ...] (stamped right before each write)


class StampedServer(FakeServer):
    """A FakeServer that records, per request, arrival and the moment each scripted sleep ended.

    The handler calls `_sleep(headers_delay)` before the status line and `_sleep(delay)` before
    every frame, and writes right after it returns, so those returns are the write times.
    `nodelay` sets TCP_NODELAY on accepted sockets (stdlib default: Nagle on).
    """

    def __init__(self, nodelay: bool = False) -> None:
        super().__init__()
        self.stamps: list[Stamps] = []
        self._current: dict[int, Stamps] = {}
        self._httpd.RequestHandlerClass.disable_nagle_algorithm = nodelay  # per-instance handler class

    def _next_reply(self, recorded: Recorded) -> Reply:
        stamp = Stamps(recorded.path, time.perf_counter_ns(), [])
        with self._lock:
            self.stamps.append(stamp)
        self._current[threading.get_ident()] = stamp
        return super()._next_reply(recorded)

    def _sleep(self, seconds: float) -> bool:
        ok = super()._sleep(seconds)
        stamp = self._current.get(threading.get_ident())
        if stamp is not None:
            stamp.writes_ns.append(time.perf_counter_ns())
        return ok

    def take_stamps(self) -> list[Stamps]:
        with self._lock:
            out, self.stamps = self.stamps, []
        return out


def _serve(conn, routes: list[tuple[str, str, tuple[Reply, ...]]], nodelay: bool) -> None:
    server = StampedServer(nodelay=nodelay).start()
    for method, path, replies in routes:
        server.on(method, path, *replies)
    conn.send(server.url)
    while True:
        msg = conn.recv()
        if msg == "stamps":
            conn.send(server.take_stamps())
        elif msg == "requests":
            conn.send(len(server.requests))
        else:
            break
    server.stop()
    conn.send("stopped")


class ServerProcess:
    """A StampedServer in a forked child process; `stamps()` fetches (and clears) its records."""

    def __init__(self, routes: list[tuple[str, str, tuple[Reply, ...]]], nodelay: bool = False) -> None:
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, routes, nodelay), daemon=True)
        self._proc.start()
        self.url: str = self._conn.recv()

    def stamps(self) -> list[Stamps]:
        self._conn.send("stamps")
        return self._conn.recv()

    def stop(self) -> None:
        try:
            self._conn.send("stop")
            self._conn.recv()
        except (EOFError, OSError):
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()


class InProcessServer:
    """The same stamped server on a thread of this process (how the test suite runs its fakes)."""

    def __init__(self, routes: list[tuple[str, str, tuple[Reply, ...]]], nodelay: bool = False) -> None:
        self._server = StampedServer(nodelay=nodelay).start()
        for method, path, replies in routes:
            self._server.on(method, path, *replies)
        self.url = self._server.url

    def stamps(self) -> list[Stamps]:
        return self._server.take_stamps()

    def stop(self) -> None:
        self._server.stop()


@contextmanager
def servers(
    routes_list: Sequence[list[tuple[str, str, tuple[Reply, ...]]]], *, in_process: bool = False, nodelay: bool = False
) -> Iterator[list[ServerProcess | InProcessServer]]:
    cls = InProcessServer if in_process else ServerProcess
    started: list[ServerProcess | InProcessServer] = []
    try:
        for routes in routes_list:
            started.append(cls(routes, nodelay=nodelay))
        yield started
    finally:
        for s in started:
            s.stop()


# ---- where the client's time goes before the request reaches the server ----------------------

TRANSPORT_ENTERED: dict[int, int] = {}  # server port -> perf_counter_ns when the SDK's request hit its transport


def stamp_transports() -> None:
    """Record when each request, fully built by its SDK, enters the HTTP transport (before connect).

    Measurement only (the bench process patches itself): splits the time from Bakeoff's "sent" to
    the server's read into the SDK's request building and the connection + upload.
    """
    import httpx
    import httpx2

    for transport in (httpx.AsyncHTTPTransport, httpx2.AsyncHTTPTransport):
        original = transport.handle_async_request
        if getattr(original, "_bench_stamped", False):
            continue

        async def handle(self, request, _original=original):  # type: ignore[no-untyped-def]
            TRANSPORT_ENTERED[request.url.port] = time.perf_counter_ns()
            return await _original(self, request)

        handle._bench_stamped = True  # type: ignore[attr-defined]
        transport.handle_async_request = handle  # type: ignore[method-assign]
