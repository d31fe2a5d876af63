"""Results as DataFrames for tables and charts (no Streamlit here, so it is testable alone)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from bakeoff.records import Result
from bakeoff.report.scores import JUDGE, SCORE_LABELS, judge_means
from bakeoff.report.scores import format_score as shared_format_score
from bakeoff.runner.scoring import score_info
from metrics.cost import format_usd
from metrics.judge import SCORE_MAX, SCORE_MIN

TOKENS_LABEL = {"reported": "reported by API", "counted": "counted (tokenizer)", "estimated": "estimated"}

JUDGE_SCORE = JUDGE  # mean rubric score of the latest judging, a column beside the metric scores
# Shown first on cards and in tables: what decides a choice, then the facts.
SCORE_ORDER = list(SCORE_LABELS)


def score_help(name: str) -> str:
    """The metric's description with its range and direction, for help tooltips."""
    if name == JUDGE_SCORE:
        return f"Mean {SCORE_MIN}-{SCORE_MAX} rubric score from the latest LLM-as-judge run (higher is better)."
    info = score_info(name)
    if info is None:
        return name
    lo, hi = info.range
    span = f"range {_num(lo)} to {_num(hi)}"
    if info.value == "bool":
        span = "1 = yes, 0 = no"
    direction = {True: "higher is better", False: "lower is better", None: "a fact, not a grade"}[info.higher_is_better]
    return f"{info.description} ({span}; {direction})"


def _num(x: float) -> str:
    return "∞" if x == math.inf else "-∞" if x == -math.inf else f"{x:g}"


def format_score(name: str, value: float | None) -> str:
    """Compact display: yes/no for flags, percentages for shares, whole numbers for counts."""
    return shared_format_score(name, value, places=2)


def score_names(results: Sequence[Result], extra: Sequence[str] = ()) -> list[str]:
    """Every score name present in the results, in display order."""
    present = set(extra) | {k for r in results for k in r.scores}
    known = [n for n in SCORE_ORDER if n in present]
    return known + sorted(present - set(known))


judge_scores = judge_means  # model_ref -> mean rubric score of the most recent rubric judging


def comparison_frame(results: Sequence[Result], judge: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One row per model with the figures users compare; unknown stays NaN/None, never 0.

    Quality scores follow as `score_<name>` columns (judge: model_ref -> mean judge score).
    """
    judge = judge or {}
    names = score_names(results, [JUDGE_SCORE] if judge else [])
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
                **{f"score_{n}": (judge.get(r.model_ref) if n == JUDGE_SCORE else r.scores.get(n)) for n in names},
            }
        )
    return pd.DataFrame(rows)


NO_QUALITY_AXIS = (
    "No score here says which answer is better for this task, so there is no quality chart: add a **reference "
    "answer** or **checks** (under the prompt) or run the **judge**. Reading ease, length and agreement are in the "
    "table as facts, not grades."
)
