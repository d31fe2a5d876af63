"""fan_out: one task per model, all concurrent, each isolated and timed the same way.

The runner, not the provider, owns timing, retries, timeouts and cancellation, so every model is
measured and treated alike. Failures become data on the Result; nothing raised by one model can
reach another model's task.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bakeoff.catalog import secrets, url_policy
from bakeoff.catalog.config import Catalog
from bakeoff.records import ErrorInfo, Params, Result, Run
from bakeoff.runner.rate_limit import Limiters, RateLimiter
from metrics import cost as cost_metrics
from metrics import latency
from metrics.tokens import estimate_tokens
from providers import registry, wire_clock
from providers.base import (
    Availability,
    BadRequest,
    Cancelled,
    ConfigError,
    ContextLength,
    CountsTokens,
    Finish,
    Meta,
    ModelSpec,
    NotFound,
    ProviderError,
    RateLimited,
    Request,
    Sent,
    Status,
    TextDelta,
    Timeout,
    Unreachable,
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


class InvalidRun(ValueError):
    """The user's input cannot be run at all (empty prompt, no model, bad settings)."""


# Caps against unbounded consumption (a shared deployment may lower them through the environment).
MAX_PROMPT_CHARS = 4_000_000  # prompt + system: ~1M tokens, the largest context windows offered
MAX_TOKENS_CAP = 1_000_000  # no model writes more; each model's own limit is checked in _preflight
MAX_TIMEOUT_S = 3600.0
MAX_CONCURRENT_CALLS = 32  # model calls in flight at once per run (a session runs one run at a time)


def limit(name: str, default: float) -> float:
    """A cap from the environment (BAKEOFF_<NAME>), else the default; a bad value keeps the default."""
    try:
        value = float(os.environ.get(f"BAKEOFF_{name}", default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate(run: Run) -> None:
    if not isinstance(run.prompt, str) or not run.prompt.strip():
        raise InvalidRun("The prompt is empty: type something for the models to answer.")
    if not run.model_refs:
        raise InvalidRun("No model selected: pick at least one model.")
    p = run.params
    size = len(run.prompt) + len(p.system or "")
    max_chars = int(limit("MAX_PROMPT_CHARS", MAX_PROMPT_CHARS))
    if size > max_chars:
        raise InvalidRun(
            f"The prompt is {size:,} characters; the limit is {max_chars:,} (BAKEOFF_MAX_PROMPT_CHARS). Shorten it."
        )
    if not isinstance(p.max_tokens, int) or isinstance(p.max_tokens, bool) or p.max_tokens <= 0:
        raise InvalidRun(f"Max tokens must be at least 1, a whole number (got {p.max_tokens!r}).")
    if p.max_tokens > MAX_TOKENS_CAP:
        raise InvalidRun(f"Max tokens {p.max_tokens:,} is above any model's output limit ({MAX_TOKENS_CAP:,}).")
    if not _number(p.temperature) or not 0 <= p.temperature <= 2:
        raise InvalidRun(f"Temperature must be between 0 and 2 (got {p.temperature}).")
    if p.top_p is not None and (not _number(p.top_p) or not 0 < p.top_p <= 1):
        raise InvalidRun(f"Top-p must be in (0, 1] (got {p.top_p}).")
    if not _number(p.timeout_s) or not 0 < p.timeout_s <= MAX_TIMEOUT_S:
        raise InvalidRun(f"Timeout must be between 0 and {MAX_TIMEOUT_S:g} seconds (got {p.timeout_s}).")
    if p.seed is not None and (not isinstance(p.seed, int) or isinstance(p.seed, bool) or abs(p.seed) >= 2**63):
        raise InvalidRun(f"Seed must be a whole number below 2^63 (got {p.seed!r}).")


def to_request(run: Run) -> Request:
    p: Params = run.params
    return Request(
        prompt=run.prompt,
        system=p.system or None,
        max_tokens=p.max_tokens,
        temperature=p.temperature,
        top_p=p.top_p,
        seed=p.seed,
        timeout_s=p.timeout_s,
    )


def _unavailable_error(spec: ModelSpec, av: Availability) -> ProviderError:
    detail = av.detail or av.state.replace("_", " ")
    if av.state == "not_downloaded":
        return NotFound(f"{spec.display_id} is not available offline: {detail}")
    if av.state == "unreachable":
        return Unreachable(f"{spec.display_id} is unreachable: {detail}")
    return ConfigError(f"{spec.display_id} is not configured: {detail}")


def _preflight(spec: ModelSpec, req: Request) -> None:
    """Refuse before sending what the model cannot take: over its output limit or context window."""
    try:  # before check(), which may already probe the URL
        url_policy.check_model_url(spec.provider, spec.base_url)
    except url_policy.RefusedURL as exc:
        raise ConfigError(f"{spec.display_id}: {exc}") from None
    provider = registry.get(spec.provider)
    av = provider.check(spec)
    if not av.ok:
        raise _unavailable_error(spec, av)
    if spec.max_output_tokens is not None and req.max_tokens > spec.max_output_tokens:
        raise BadRequest(
            f"Max tokens {req.max_tokens} is above {spec.display_id}'s output limit of {spec.max_output_tokens}."
        )
    if spec.context_window is not None:
        text = f"{req.system}\n{req.prompt}" if req.system else req.prompt
        counted = provider.count_tokens(spec, text) if isinstance(provider, CountsTokens) else None
        prompt_tokens = counted if counted is not None else estimate_tokens(text, spec.model)
        if prompt_tokens + req.max_tokens > spec.context_window:
            raise ContextLength(
                f"Prompt ({prompt_tokens} tokens{'' if counted is not None else ', estimated'}) + max tokens "
                f"({req.max_tokens}) exceed {spec.display_id}'s context window of {spec.context_window}."
            )


def _request_tokens(spec: ModelSpec, req: Request) -> int:
    """What a request counts against a tokens/min limit: its prompt (estimated) plus max_tokens."""
    text = f"{req.system}\n{req.prompt}" if req.system else req.prompt
    return estimate_tokens(text, spec.model) + req.max_tokens


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
    written, a text = the network read that brought it. The SDK's request build and connection
    setup count as queue time and its decoding as nobody's, never as the model's TTFT.
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
                        now = wire.arrival(now)
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
        res.progress = ""
        timer.reschedule(loop.time() + req.timeout_s)
    elif isinstance(event, Status):
        res.progress = event.message
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


async def _run_one(
    spec: ModelSpec,
    req: Request,
    res: Result,
    policy: RetryPolicy,
    notify: OnUpdate,
    limiter: RateLimiter | None = None,
) -> Result:
    res.queued_ns = time.perf_counter_ns()
    res.status = "running"
    notify(res)
    try:
        await asyncio.to_thread(_preflight, spec, req)
        while True:
            res.attempts += 1
            _reset_attempt(res)
            try:
                if limiter is not None:  # every attempt, retries included, waits its turn
                    await limiter.acquire(_request_tokens(spec, req))
                await _attempt(spec, req, res, policy, notify)
            except ProviderError as exc:
                res.request_id = exc.request_id or res.request_id
                entry = _log_attempt(res, exc)
                if limiter is not None and isinstance(exc, RateLimited) and exc.retry_after:
                    limiter.pause(exc.retry_after)  # the other cells back off from this provider too
                wait = policy.delay(res.attempts, exc.retry_after) if exc.retryable else None
                if res.first_token_ns is not None or wait is None:
                    raise
                entry["wait_s"] = round(wait, 4)
                res.progress = f"{type(exc).__name__}: retrying in {wait:.1f} s (attempt {res.attempts + 1})"
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
        if isinstance(exc, Timeout):
            res.status = "timeout"
        elif res.first_token_ns is not None:
            res.status = "interrupted"
        else:
            res.status = "error"
        return res
    finally:
        res.closed_ns = time.perf_counter_ns()
        res.progress = ""


def finalize(res: Result, spec: ModelSpec, req: Request, catalog: Catalog, day: dt.date) -> Result:
    """Derive timings, fill missing usage with marked estimates, price the call; scrub echoed keys."""
    key_envs = [spec.api_key_env, *(e.api_key_env for e in catalog.entries.values())]
    res.output = secrets.scrub(res.output, key_envs)  # a server echoing a key into its answer
    if res.error is not None:
        res.error.message = secrets.scrub_message(res.error.message, key_envs)
    if res.sent_ns is not None and res.queued_ns is not None:
        res.queue_s = (res.sent_ns - res.queued_ns) / latency.NS
    res.ttft_s = latency.ttft_s(res.sent_ns, res.first_token_ns)
    res.e2e_s = latency.e2e_s(res.sent_ns, res.last_token_ns)
    # Estimate only what the model processed: a request refused before any text (401, 429, ...)
    # reported no usage and was not billed, so it stays unknown rather than getting a made-up cost.
    answered = res.status == "ok" or res.first_token_ns is not None or res.tokens_source is not None
    if (
        answered
        and res.sent_ns is not None
        and (res.input_tokens is None or (res.output_tokens is None and res.output))
    ):
        prompt_text = f"{req.system}\n{req.prompt}" if req.system else req.prompt
        if res.input_tokens is None:
            res.input_tokens = estimate_tokens(prompt_text, spec.model)
        if res.output_tokens is None:
            res.output_tokens = estimate_tokens(res.output, spec.model)
        res.tokens_source = "estimated"
    res.tpot_s = latency.tpot_s(res.ttft_s, res.e2e_s, res.output_tokens)
    res.output_tokens_per_s = latency.output_tokens_per_s(res.e2e_s, res.output_tokens)
    _price(res, spec, catalog, day)
    return res


def _price(res: Result, spec: ModelSpec, catalog: Catalog, day: dt.date) -> None:
    if res.sent_ns is None:
        return  # never sent: nothing billed
    row = catalog.price_on(spec.id, day)
    if row is not None:
        rates = row.rates(res.input_tokens)
        res.cost_usd = cost_metrics.api_cost(
            res.input_tokens,
            res.output_tokens,
            input_per_m=rates.input,
            output_per_m=rates.output,
            cached_input_tokens=res.cached_input_tokens,
            cached_input_per_m=rates.cached_input,
            reasoning_tokens=res.reasoning_tokens,
            reasoning_per_m=rates.reasoning,
        )
        if res.cost_usd is not None:  # None: usage unknown (a refused request is not billed)
            res.cost_basis = "api price, long-context tier" if rates.long_context else "api price"
            res.price_as_of = row.as_of
    elif spec.kind == "local":
        end = res.last_token_ns or res.closed_ns
        busy = (end - res.sent_ns) / latency.NS if end else None
        res.cost_usd = cost_metrics.local_compute_cost(busy, catalog.local_compute.usd_per_hour)
        if res.cost_usd is not None:
            res.cost_basis, res.price_as_of = "local compute", catalog.local_compute.as_of


def new_result(run: Run, ref: str, spec: ModelSpec) -> Result:
    return Result(
        run_id=run.run_id,
        model_ref=ref,
        provider=spec.provider,
        model=spec.model,
        kind=spec.kind,
        precision=spec.precision,
    )


async def fan_out(
    run: Run,
    specs: Sequence[ModelSpec],
    catalog: Catalog,
    *,
    on_update: OnUpdate | None = None,
    on_finish: OnUpdate | None = None,
    cancel: threading.Event | None = None,
    policy: RetryPolicy = RetryPolicy(),
    results: Sequence[Result] | None = None,
    limiters: Limiters | None = None,
) -> list[Result]:
    """Run every model concurrently; return one Result per spec, in order, whatever happened."""
    req = to_request(run)
    day = run.created_at.date()
    results = (
        list(results)
        if results is not None
        else [new_result(run, r, s) for r, s in zip(run.model_refs, specs, strict=False)]
    )
    notify = on_update or (lambda _r: None)

    calls = asyncio.Semaphore(int(limit("MAX_CONCURRENT_CALLS", MAX_CONCURRENT_CALLS)))

    async def one(spec: ModelSpec, res: Result) -> None:
        async with calls:  # at most MAX_CONCURRENT_CALLS of this run's models in flight at once
            await _run_one(spec, req, res, policy, notify, (limiters or {}).get(spec.id))
        finalize(res, spec, req, catalog, day)
        notify(res)
        if on_finish is not None:
            try:
                on_finish(res)
            except Exception:  # a storage hiccup must not cost the other answers
                log.exception("could not save result %s", res.result_id)

    tasks = [asyncio.create_task(one(s, r), name=r.model_ref) for s, r in zip(specs, results, strict=True)]
    watcher = asyncio.create_task(_watch_cancel(cancel, tasks)) if cancel is not None else None
    try:
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if watcher is not None:
            watcher.cancel()
    return results


async def _watch_cancel(cancel: threading.Event, tasks: list[asyncio.Task]) -> None:
    while not cancel.is_set():
        await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
