"""Results as DataFrames for tables and charts (no Streamlit here, so it is testable alone)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bakeoff.records import Result
from metrics.cost import format_usd

TOKENS_LABEL = {"reported": "reported by API", "counted": "counted (tokenizer)", "estimated": "estimated"}


def comparison_frame(results: Sequence[Result]) -> pd.DataFrame:
    """One row per model with the figures users compare; unknown stays NaN/None, never 0."""
    rows = []
    for r in results:
        rows.append(
            {
                "model": r.model_ref,
                "status": r.status,
                "precision": r.precision or "",
                "queue_s": r.queue_s,
                "ttft_s": r.ttft_s,
                "generation_s": (r.e2e_s - r.ttft_s) if r.e2e_s is not None and r.ttft_s is not None else None,
                "e2e_s": r.e2e_s,
                "tpot_ms": r.tpot_s * 1000 if r.tpot_s is not None else None,
                "output_tokens_per_s": r.output_tokens_per_s,
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
                "tokens": TOKENS_LABEL.get(r.tokens_source or "", "unknown"),
                "cost": format_usd(r.cost_usd) + (f" ({r.cost_basis})" if r.cost_basis == "local compute" else ""),
                "cost_usd": float(r.cost_usd) if r.cost_usd is not None else None,
                "finish": r.finish_reason or "",
                "memory_mb": r.memory_bytes / 1e6 if r.memory_bytes else None,
                "error": f"{r.error.cls}: {r.error.message}" if r.error else "",
            }
        )
    return pd.DataFrame(rows)
