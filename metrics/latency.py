"""Latency figures from per-attempt timestamps (nanoseconds, time.perf_counter_ns()).

Definitions follow vLLM's benchmark (benchmarks/benchmark_serving.py):
  TTFT = first non-empty text token - request sent
  E2E  = last text token - request sent
  TPOT = (E2E - TTFT) / (output_tokens - 1)      time per output token after the first
  output tokens/s = output_tokens / E2E
Any missing input gives None (unknown), never 0.
"""

from __future__ import annotations

NS = 1e9


def ttft_s(sent_ns: int | None, first_token_ns: int | None) -> float | None:
    """Seconds from send to first text.

    >>> ttft_s(0, 250_000_000)
    0.25
    """
    if sent_ns is None or first_token_ns is None:
        return None
    return (first_token_ns - sent_ns) / NS


def e2e_s(sent_ns: int | None, last_token_ns: int | None) -> float | None:
    """Seconds from send to last text.

    >>> e2e_s(1_000_000_000, 3_000_000_000)
    2.0
    """
    if sent_ns is None or last_token_ns is None:
        return None
    return (last_token_ns - sent_ns) / NS


def tpot_s(ttft: float | None, e2e: float | None, output_tokens: int | None) -> float | None:
    """Seconds per output token after the first.

    >>> tpot_s(0.5, 2.5, 11)
    0.2
    """
    if ttft is None or e2e is None or output_tokens is None or output_tokens < 2:
        return None
    return (e2e - ttft) / (output_tokens - 1)


def output_tokens_per_s(e2e: float | None, output_tokens: int | None) -> float | None:
    """Output tokens over total time.

    >>> output_tokens_per_s(2.0, 50)
    25.0
    """
    if e2e is None or output_tokens is None or e2e <= 0:
        return None
    return output_tokens / e2e


HELP = {
    "ttft_s": "Time to first token: when the bytes of the first non-empty text arrived minus when the request "
    "was sent (over HTTP: fully written to the socket, so connecting and the SDK's own work are not billed "
    "to the model; local models: weights loaded beforehand).",
    "e2e_s": "Total time: when the last text arrived minus when the request was sent.",
    "tpot_s": "Time per output token after the first: (total - TTFT) / (output tokens - 1).",
    "output_tokens_per_s": "Output tokens / total time (vLLM's definition).",
    "queue_s": "Waiting before the request went out: loading weights, waiting for a busy local model or a rate "
    "limit, the SDK building the request and opening the connection (DNS, TCP, TLS), retries.",
}
