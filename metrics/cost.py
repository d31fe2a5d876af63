"""Cost in USD as exact Decimal (rounded only for display). Unknown price gives None ("unpriced"), never 0."""

from __future__ import annotations

from decimal import Decimal

MILLION = Decimal(1_000_000)


def api_cost(
    input_tokens: int | None,
    output_tokens: int | None,
    *,
    input_per_m: Decimal | None,
    output_per_m: Decimal | None,
    cached_input_tokens: int | None = None,
    cached_input_per_m: Decimal | None = None,
    reasoning_tokens: int | None = None,
    reasoning_per_m: Decimal | None = None,
) -> Decimal | None:
    """Usage × price per 1M tokens.

    Cached input tokens are part of input_tokens (as OpenAI, Gemini and Anthropic-normalised usage
    report them) and are billed at the cached rate when one exists. Reasoning tokens are part of
    output_tokens and billed at the reasoning rate only when it differs.

    >>> api_cost(1000, 500, input_per_m=Decimal("2.50"), output_per_m=Decimal("10"))
    Decimal('0.0075')
    >>> api_cost(1234, 56, input_per_m=Decimal("0.15"), output_per_m=Decimal("0.60"))  # not rounded to 0.000219
    Decimal('0.0002187')
    >>> api_cost(None, 500, input_per_m=Decimal("1"), output_per_m=Decimal("1")) is None
    True
    """
    if input_tokens is None or output_tokens is None or input_per_m is None or output_per_m is None:
        return None
    cached = min(cached_input_tokens or 0, input_tokens) if cached_input_per_m is not None else 0
    reasoning = min(reasoning_tokens or 0, output_tokens) if reasoning_per_m is not None else 0
    total = (
        Decimal(input_tokens - cached) * input_per_m
        + Decimal(cached) * (cached_input_per_m or Decimal(0))
        + Decimal(output_tokens - reasoning) * output_per_m
        + Decimal(reasoning) * (reasoning_per_m or Decimal(0))
    ) / MILLION
    return total


def local_compute_cost(busy_s: float | None, usd_per_hour: Decimal | None) -> Decimal | None:
    """Hardware price × seconds the model was busy (generation only, not loading).

    >>> local_compute_cost(36.0, Decimal("0.10"))
    Decimal('0.001')
    >>> local_compute_cost(1.0, Decimal("1"))  # kept to Decimal's 28 digits, never to micro-dollars
    Decimal('0.0002777777777777777777777777778')
    """
    if busy_s is None or usd_per_hour is None:
        return None
    return Decimal(str(busy_s)) * usd_per_hour / Decimal(3600)


def format_usd(value: Decimal | None) -> str:
    """Dollars for display; small amounts keep their significant digits.

    >>> format_usd(Decimal("0.000123"))
    '$0.000123'
    >>> format_usd(Decimal("0.0002187"))
    '$0.000219'
    >>> format_usd(Decimal("0.00000004"))
    '$0.00000004'
    >>> format_usd(Decimal("1.5"))
    '$1.50'
    >>> format_usd(None)
    'unpriced'
    """
    if value is None:
        return "unpriced"
    if value >= Decimal("1e12"):
        return f"${value:.3E}"  # an absurd price stays visible without a 400-digit string
    if value >= Decimal("0.01") or value == 0:
        return f"${value:,.2f}"
    if value >= Decimal("0.000001"):
        return f"${value:.6f}".rstrip("0")
    return f"${value:.{2 - value.adjusted()}f}".rstrip("0")  # two significant digits below a micro-dollar
