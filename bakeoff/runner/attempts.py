"""One model's call: the attempt loop with its retry policy, each event stamped on arrival.

Failures become data on the Result (status and error), so nothing one model raises reaches another.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bakeoff.records import ErrorInfo, Result
from bakeoff.runner.loop import polled_ns
from bakeoff.runner.preflight import preflight, request_tokens
from bakeoff.runner.rate_limit import RateLimiter
from metrics import latency
from providers import registry, wire_clock
from providers.base import (
    Cancelled,
    Finish,
    Meta,
    ModelSpec,
    ProviderError,
    RateLimited,
    Request,
    Sent,
    Status,
    TextDelta,
    Timeout,
    Usage,
    redact,
)

log = logging.getLogger(__name__)

OnUpdate = Callable[[Result], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Retry only before the first token; honour Retry-After up to a cap, else fail fast."""

    max_attempts: int = 3
    base_s: float = 0.5
    cap_s: float = 8.0
    retry_after_cap_s: float = 30.0
    prepare_timeout_s: float = 900.0  # loading local weights before the request is sent

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.retry_after_cap_s else None
        return min(self.cap_s, self.base_s * 2 ** (attempt - 1)) * random.uniform(0.75, 1.0)


def _error_info(exc: BaseException, spec: ModelSpec) -> ErrorInfo:
    if isinstance(exc, ProviderError):
        return ErrorInfo(type(exc).__name__, redact(exc.message), exc.http_status, exc.hint)
    log.exception("unexpected error from %s", spec.display_id, exc_info=exc)
    return ErrorInfo(
        "InternalError",
        redact(f"{type(exc).__name__}: {exc}"),
        None,
        "An unexpected error inside Bakeoff; the log has details.",
    )


async def _attempt(spec: ModelSpec, req: Request, res: Result, policy: RetryPolicy, notify: OnUpdate) -> None:
    """One call: consume the provider's events, stamping each on arrival.

    Over HTTP the stamps come from the wire (providers/wire_clock.py): sent = the request fully
    written, a text = the network read that brought it, or the engine loop's latest I/O poll if that
    is earlier (bakeoff/runner/loop.py: the bytes were in by then, however many other models' SDKs
    decoded theirs first). The SDK's request build and connection setup count as queue time and its
    decoding as nobody's, never as the model's TTFT.
    """
    provider = registry.get(spec.provider)
    stream = provider.stream(spec, req)
    loop = asyncio.get_running_loop()
    with wire_clock.watching() as wire:
        try:
            # One timer per attempt, rescheduled at Sent. Not wait_for() per event: on Python 3.11 that
            # wraps every event in a new Task, an extra loop pass before each stamp (bench/timing_truth.py).
            async with asyncio.timeout(policy.prepare_timeout_s) as timer:
                async for event in stream:
                    now = time.perf_counter_ns()
                    res.sent_ns = wire.sent(res.sent_ns)
                    if isinstance(event, Sent):
                        wire.arm()
                    elif isinstance(event, TextDelta):
                        now = max(polled_ns(loop, wire.arrival(now)), res.sent_ns or 0)  # never before Sent
                    _apply(event, now, res, req, timer, loop)
                    notify(res)
        except TimeoutError:
            raise Timeout(f"{spec.display_id} did not finish within {req.timeout_s:g} s.") from None
        finally:  # an attempt that ends with no event after Sent keeps Sent: its duration includes the setup
            await stream.aclose()


def _apply(
    event: object, now: int, res: Result, req: Request, timer: asyncio.Timeout, loop: asyncio.AbstractEventLoop
) -> None:
    """Record one provider event, stamped `now`, on the attempt's Result."""
    if isinstance(event, TextDelta):
        if event.text:
            if res.first_token_ns is None:
                res.first_token_ns = now
            res.last_token_ns = now
            res.output += event.text
    elif isinstance(event, Sent):
        res.sent_ns = now
        res.status = "running"
        res.progress, res.progress_since_ns = "", None
        timer.reschedule(loop.time() + req.timeout_s)
    elif isinstance(event, Status):
        if event.message != res.progress:
            res.progress, res.progress_since_ns = event.message, now
    elif isinstance(event, Usage):
        res.input_tokens = event.input_tokens
        res.output_tokens = event.output_tokens
        res.cached_input_tokens = event.cached_input_tokens
        res.reasoning_tokens = event.reasoning_tokens
        res.tokens_source = event.source
    elif isinstance(event, Finish):
        res.finish_reason = event.reason
    elif isinstance(event, Meta):
        res.request_id = event.request_id or res.request_id
        res.system_fingerprint = event.system_fingerprint or res.system_fingerprint
        res.server_timings.update(event.server_timings)
        res.provider_meta.update(event.extra)
        res.memory_bytes = event.memory_bytes or res.memory_bytes
        res.load_s = event.load_s if event.load_s is not None else res.load_s


def _reset_attempt(res: Result) -> None:
    res.sent_ns = res.first_token_ns = res.last_token_ns = None
    res.output, res.finish_reason = "", None
    res.input_tokens = res.output_tokens = res.cached_input_tokens = res.reasoning_tokens = None
    res.tokens_source = None


def _log_attempt(res: Result, exc: BaseException | None) -> dict[str, Any]:
    """Append one entry to res.attempt_log: outcome, HTTP status, seconds from sent to closed."""
    if exc is None:
        outcome = "ok"
    elif isinstance(exc, asyncio.CancelledError):
        outcome = Cancelled.__name__
    elif isinstance(exc, ProviderError):
        outcome = type(exc).__name__
    else:
        outcome = "InternalError"
    sent = res.sent_ns
    entry: dict[str, Any] = {
        "attempt": res.attempts,
        "outcome": outcome,
        "http_status": getattr(exc, "http_status", None),
        "duration_s": round((time.perf_counter_ns() - sent) / latency.NS, 4) if sent is not None else None,
        "wait_s": None,  # seconds slept before the next attempt
    }
    res.attempt_log.append(entry)
    return entry


async def run_one(
    spec: ModelSpec,
    req: Request,
    res: Result,
    policy: RetryPolicy,
    notify: OnUpdate,
    limiter: RateLimiter | None = None,
    gate: asyncio.Semaphore | None = None,
) -> Result:
    """Call one model until it answers or the policy gives up; every failure ends up on `res`, never raised.

    Each attempt first waits for its provider budget (`limiter`), then for a slot under the loop's cap of
    calls in flight (`gate`), held only while the call is out: a call waiting for its rate limit or sleeping
    before a retry takes no slot from another run.
    """
    res.queued_ns = time.perf_counter_ns()
    res.status = "running"
    notify(res)
    try:
        await asyncio.to_thread(preflight, spec, req)
        while True:
            res.attempts += 1
            _reset_attempt(res)
            try:
                if limiter is not None:  # every attempt, retries included, waits its turn
                    await limiter.acquire(request_tokens(spec, req))
                if gate is None:
                    await _attempt(spec, req, res, policy, notify)
                else:
                    async with gate:
                        await _attempt(spec, req, res, policy, notify)
            except ProviderError as exc:
                wait = _retry_wait(exc, res, policy, limiter)
                if wait is None:
                    raise
                notify(res)
                await asyncio.sleep(wait)
                continue
            except BaseException as exc:  # cancelled, or a bug: still an attempt that ended
                _log_attempt(res, exc)
                raise
            _log_attempt(res, None)
            res.status = "ok"
            return res
    except asyncio.CancelledError:
        res.status = "cancelled"
        res.error = _error_info(Cancelled("Stopped before the answer finished."), spec)
        return res
    except Exception as exc:  # every failure becomes data on this model's card
        res.error = _error_info(exc, spec)
        streamed = res.first_token_ns is not None
        res.status = "timeout" if isinstance(exc, Timeout) else "interrupted" if streamed else "error"
        return res
    finally:
        res.closed_ns = time.perf_counter_ns()
        res.progress, res.progress_since_ns = "", None


def _retry_wait(exc: ProviderError, res: Result, policy: RetryPolicy, limiter: RateLimiter | None) -> float | None:
    """Log the failed attempt; seconds to wait before the next one, or None to give up (never after a token)."""
    res.request_id = exc.request_id or res.request_id
    entry = _log_attempt(res, exc)
    if limiter is not None and isinstance(exc, RateLimited) and exc.retry_after:
        limiter.pause(exc.retry_after)  # the other cells back off from this provider too
    wait = policy.delay(res.attempts, exc.retry_after) if exc.retryable else None
    if res.first_token_ns is not None or wait is None:
        return None
    entry["wait_s"] = round(wait, 4)
    res.progress = f"{type(exc).__name__}: retrying in {wait:.1f} s (attempt {res.attempts + 1})"
    res.progress_since_ns = time.perf_counter_ns()
    return wait
