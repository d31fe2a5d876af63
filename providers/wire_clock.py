"""When a request went out and when each piece of its answer came in, stamped in the HTTP stack.

Providers yield Sent before the SDK builds the request and opens a connection (DNS, TCP, TLS),
and they yield text only after the SDK has decoded it (SSE framing, JSON, pydantic models). Both
are the client's work, not the model's, and they differ between SDKs, between a first call and a
warm pool, and with how busy the event loop is; a TTFT taken at those points bills Bakeoff's own
overhead to the model: several milliseconds on localhost, tens against a real API
(bench/timing_truth.py). Every SDK here sits on httpx (or its fork httpx2), so two event hooks
stamp the wire itself:
- request: a `trace` extension, called by the HTTP core at `send_request_body.started`: the
  headers are on the socket and the body is next. Not `.complete`: each write first yields to the
  event loop, and the write of the (empty) end of message after the body lets other attempts run
  before `.complete` is reported, so in a fan-out that stamp lands after the server has started
  and TTFT comes out short. Too early by at most one loop turn beats too late;
- response: the body stream, wrapped to stamp each network read as it returns.
The stamps land in the attempt's WireStamp, found through a context variable, so concurrent
attempts never see each other's. A text's arrival is the latest read before the SDK yielded it:
never earlier than the bytes that carried it, never later than the yield.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass
class WireStamp:
    """perf_counter_ns stamps of the attempt's request since `arm`; None = not over HTTP (yet)."""

    written_ns: int | None = None  # the first request's headers written, its body about to go
    read_ns: int | None = None  # the latest network read of its answer
    armed: bool = False

    def arm(self) -> None:
        """Watch from now on (the provider's Sent): earlier requests such as probes do not count."""
        self.written_ns = self.read_ns = None
        self.armed = True

    def sent(self, sent_ns: int | None) -> int | None:
        """The sent stamp to keep: when the request was written, once it has been, never before Sent."""
        if self.written_ns is not None and sent_ns is not None and self.written_ns > sent_ns:
            return self.written_ns
        return sent_ns

    def arrival(self, now: int) -> int:
        """When the bytes of a text just yielded reached Bakeoff: the latest read, else `now`."""
        return self.read_ns if self.read_ns is not None and self.read_ns <= now else now


_current: ContextVar[WireStamp | None] = ContextVar("bakeoff_wire_stamp", default=None)


@contextmanager
def watching() -> Iterator[WireStamp]:
    """Collect the wire stamps of requests sent from this context (an attempt's task)."""
    stamp = WireStamp()
    token = _current.set(stamp)
    try:
        yield stamp
    finally:
        _current.reset(token)


async def _trace(name: str, info: dict[str, Any]) -> None:
    if name.endswith(".send_request_body.started"):  # http11. or http2.
        stamp = _current.get()
        if stamp is not None and stamp.armed and stamp.written_ns is None:
            stamp.written_ns = time.perf_counter_ns()


async def _attach_trace(request: Any) -> None:
    if _current.get() is not None:
        request.extensions["trace"] = _trace


_STAMPED: dict[type, type] = {}


def _stamped_stream_class(base: type) -> type:
    """A subclass of the client's own AsyncByteStream (httpx checks the type) that stamps reads."""
    if base not in _STAMPED:

        class Stamped(base):  # type: ignore[misc, valid-type]
            def __init__(self, inner: Any, stamp: WireStamp) -> None:
                self._inner, self._stamp = inner, stamp

            async def __aiter__(self) -> AsyncIterator[bytes]:
                async for chunk in self._inner:
                    if self._stamp.armed:
                        self._stamp.read_ns = time.perf_counter_ns()
                    yield chunk

            async def aclose(self) -> None:
                await self._inner.aclose()

        _STAMPED[base] = Stamped
    return _STAMPED[base]


async def _stamp_reads(response: Any) -> None:
    stamp = _current.get()
    if stamp is None:
        return
    base = next((c for c in type(response.stream).__mro__ if c.__name__ == "AsyncByteStream"), None)
    if base is not None:
        response.stream = _stamped_stream_class(base)(response.stream, stamp)


def event_hooks() -> dict[str, list[Any]]:
    """`event_hooks=` for an httpx / httpx2 AsyncClient whose requests should be stamped."""
    return {"request": [_attach_trace], "response": [_stamp_reads]}
