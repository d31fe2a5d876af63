"""How far a quantized model's greedy output drifts from the full-precision one, token by token.

Both outputs are token-id lists from the same tokenizer. Greedy decoding is deterministic, so any
difference comes from the weights (or the engine): once one token differs the rest usually does too,
which is why the common prefix is reported next to the position-wise agreement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TokenDrift:
    agreement: float  # matching positions / the longer length (1.0 = identical)
    common_prefix: int  # tokens identical from the start
    prefix_share: float  # common_prefix / baseline length (1.0: the baseline is a prefix of the output)
    baseline_tokens: int
    output_tokens: int


def token_drift(baseline: Sequence[int], output: Sequence[int]) -> TokenDrift:
    """Compare two greedy outputs as token ids.

    >>> token_drift([1, 2, 3, 4], [1, 2, 9, 4])
    TokenDrift(agreement=0.75, common_prefix=2, prefix_share=0.5, baseline_tokens=4, output_tokens=4)
    >>> token_drift([1, 2], [1, 2, 3, 4]).agreement
    0.5
    >>> token_drift([], [])
    TokenDrift(agreement=1.0, common_prefix=0, prefix_share=1.0, baseline_tokens=0, output_tokens=0)
    """
    longest = max(len(baseline), len(output))
    if longest == 0:
        return TokenDrift(1.0, 0, 1.0, 0, 0)
    matches = sum(a == b for a, b in zip(baseline, output, strict=False))
    prefix = 0
    for a, b in zip(baseline, output, strict=False):
        if a != b:
            break
        prefix += 1
    share = prefix / len(baseline) if baseline else (1.0 if not output else 0.0)
    return TokenDrift(matches / longest, prefix, share, len(baseline), len(output))
