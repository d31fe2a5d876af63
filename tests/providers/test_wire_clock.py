"""Wire stamps: the request written and each network read, on both HTTP stacks the SDKs use."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
import httpx2
import pytest

from providers import wire_clock
from tests.fakes.server import FakeServer, Reply

FIRST_S, BETWEEN_S, DECODE_S = 0.1, 0.1, 0.15
NS = 1e9


def _stream(fake: FakeServer) -> None:
    frames = [b"data: one\n\n", b"data: two\n\n", b"data: three\n\n"]
    fake.on("POST", "/stream", Reply(frames=frames, content_type="text/event-stream", first_delay=FIRST_S,
                                     between_delay=BETWEEN_S))


async def _slow_consumer(client_cls, url: str) -> tuple[int, int | None, list[tuple[int, int]]]:
    """Read the stream like an SDK whose decoding takes DECODE_S per chunk; return the stamps."""
    with wire_clock.watching() as wire:
        async with client_cls(event_hooks=wire_clock.event_hooks()) as client:
            sent = time.perf_counter_ns()
            wire.arm()
            async with client.stream("POST", url, content=b'{"q": 1}') as response:
                seen = []
                async for _ in response.aiter_raw():
                    await asyncio.sleep(DECODE_S)  # the SDK's decoding, before it yields the text
                    now = time.perf_counter_ns()
                    seen.append((wire.arrival(now), now))
        return sent, wire.written_ns, seen


@pytest.mark.parametrize("client_cls", [httpx.AsyncClient, httpx2.AsyncClient], ids=["httpx", "httpx2"])
def test_a_text_is_stamped_when_its_bytes_arrived_not_when_decoded(fake: FakeServer, client_cls) -> None:
    _stream(fake)
    sent, written, seen = asyncio.run(_slow_consumer(client_cls, f"{fake.url}/stream"))
    assert written is not None and sent <= written <= seen[0][0]
    assert len(seen) == 3
    for arrived, yielded in seen:
        assert (yielded - arrived) / NS >= DECODE_S * 0.9  # the decode time is not in the stamp
    first = (seen[0][0] - written) / NS
    assert FIRST_S * 0.9 <= first < FIRST_S + 0.05, first
    # reads come every BETWEEN_S + DECODE_S here (the consumer is slow), and each is stamped as it returns
    gaps = [(b[0] - a[0]) / NS for a, b in itertools.pairwise(seen)]
    assert all(g >= DECODE_S for g in gaps), gaps


def test_outside_an_attempt_nothing_is_attached(fake: FakeServer) -> None:
    _stream(fake)

    async def plain() -> dict:
        async with httpx.AsyncClient(event_hooks=wire_clock.event_hooks()) as client:
            async with client.stream("POST", f"{fake.url}/stream") as response:
                await response.aread()
                return dict(response.request.extensions)

    assert "trace" not in asyncio.run(plain())


def test_concurrent_attempts_keep_their_own_stamps(fake: FakeServer) -> None:
    _stream(fake)

    async def one(delay: float) -> tuple[int, int]:
        await asyncio.sleep(delay)
        _sent, written, seen = await _slow_consumer(httpx.AsyncClient, f"{fake.url}/stream")
        return written, seen[0][0]

    async def both() -> list[tuple[int, int]]:
        return await asyncio.gather(one(0.0), one(0.3))

    (w0, a0), (w1, a1) = asyncio.run(both())
    assert (w1 - w0) / NS >= 0.25  # the later attempt's request went out later, and it kept its own stamp
    assert (a1 - w1) / NS >= FIRST_S * 0.9 and (a0 - w0) / NS >= FIRST_S * 0.9


def test_arm_forgets_requests_before_sent() -> None:
    stamp = wire_clock.WireStamp(written_ns=5, read_ns=7)
    stamp.arm()
    assert stamp.written_ns is None and stamp.arrival(100) == 100


def test_sent_moves_to_the_write_never_before_sent() -> None:
    stamp = wire_clock.WireStamp()
    assert stamp.sent(10) == 10  # nothing written yet (a local model, or before the request)
    stamp.written_ns = 15
    assert stamp.sent(10) == 15 and stamp.sent(20) == 20 and stamp.sent(None) is None
