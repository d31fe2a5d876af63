"""A provider whose behaviour a test scripts through spec.options: delays, chunks, usage, failures.

Used to test the runner (concurrency, isolation, timeouts, retries, cancellation) without any
network or model. Options:
  chunks: list[str]        text pieces to stream
  first_delay: float       seconds between Sent and the first chunk
  chunk_delay: float       seconds between chunks
  usage: [in, out] | None  reported usage (omit to make the runner estimate)
  fail: str                taxonomy class name raised ...
  fail_after: int          ... after this many chunks (0 = before any text)
  fail_times: int          ... on only the first N attempts (then succeed)
  retry_after: float       retry_after carried by the raised error
  available: str           Availability state check() reports (default "ready")
  load_delay: float        seconds of "loading" (a Status, as local providers give on first use) before Sent;
                           reported as the load time in Meta
  replies: [[regex, text]] answer with the text of the first rule whose regex is found in the prompt
                           (streamed as one chunk; falls back to `chunks`), e.g. a judge that reads its input
Every request is recorded in `requests` as (model, Request).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from typing import ClassVar

from providers import base
from providers.base import Availability, Event, Finish, Meta, ModelSpec, Request, Sent, Status, TextDelta, Usage


class ScriptedProvider:
    name: ClassVar[str] = "scripted"

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.active = 0
        self.max_active = 0
        self.closed: list[str] = []
        self.requests: list[tuple[str, Request]] = []
        self._lock = threading.Lock()

    def check(self, spec: ModelSpec) -> Availability:
        return Availability(spec.options.get("available", "ready"), "scripted availability")

    async def stream(self, spec: ModelSpec, req: Request) -> AsyncIterator[Event]:
        o = spec.options
        with self._lock:
            attempt = self.calls[spec.model] = self.calls.get(spec.model, 0) + 1
            self.requests.append((spec.model, req))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            yield Status("warming up")
            if load_delay := o.get("load_delay"):
                yield Status(f"loading {spec.model} (first use)…")
                await asyncio.sleep(load_delay)
                yield Meta(load_s=load_delay)
            yield Sent()
            fails = o.get("fail") and attempt <= o.get("fail_times", 10**9)
            await asyncio.sleep(o.get("first_delay", 0.0))
            chunks = o.get("chunks", ["hello", " world"])
            for pattern, text in o.get("replies", []):
                if re.search(pattern, req.prompt):
                    chunks = [text]
                    break
            for i, chunk in enumerate(chunks):
                if fails and i == o.get("fail_after", 0):
                    raise getattr(base, o["fail"])(
                        f"scripted {o['fail']}", http_status=o.get("http_status"), retry_after=o.get("retry_after")
                    )
                if i:
                    await asyncio.sleep(o.get("chunk_delay", 0.0))
                yield TextDelta(chunk)
            if fails and o.get("fail_after", 0) >= len(chunks):
                raise getattr(base, o["fail"])(f"scripted {o['fail']}")
            if o.get("usage"):
                yield Usage(*o["usage"], source="reported")
            yield Finish("stop")
        finally:
            with self._lock:
                self.active -= 1
                self.closed.append(spec.model)
