"""Results as DataFrames for tables and charts (no Streamlit here, so it is testable alone)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from bakeoff.records import Result
from bakeoff.report.scores import format_score as shared_format_score
from bakeoff.report.scores import goodness, judge_means, task_relevant
from bakeoff.runner.scoring import score_info
from metrics.cost import format_usd
from metrics.judge import SCORE_MAX, SCORE_MIN

TOKENS_LABEL = {"reported": "reported by API", "counted": "counted (tokenizer)", "estimated": "estimated"}

JUDGE_SCORE = "judge_score"  # mean rubric score of the latest judging, a column beside the metric scores
SCORE_LABELS = {
    JUDGE_SCORE: "judge score",
    "assertions_passed": "checks passed",
    "semantic_similarity": "similarity to reference",
    "agreement": "agreement",
    "exact_match": "exact match",
    "quasi_exact_match": "quasi-exact match",
    "token_f1": "token F1",
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "bleu": "BLEU",
    "chrf": "chrF",
    "is_refusal": "refusal",
    "is_json": "valid JSON",
    "flesch_reading_ease": "reading ease",
    "words": "words",
    "characters": "characters",
}
# Shown first on cards and in tables: what decides a choice, then the facts.
SCORE_ORDER = list(SCORE_LABELS)


def score_label(name: str) -> str:
    return SCORE_LABELS.get(name, name.replace("_", " "))


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


def quality_long(frame: pd.DataFrame) -> pd.DataFrame:
    """Long form of a comparison frame's task-relevant scores for the heat map: model, metric, label, value, text,
    goodness (0 worst - 1 best within the score's range).

    Only scores that say which answer is better for this task colour it (bakeoff.report.scores.task_relevant:
    the judge, the checks, metrics against a reference); reading ease, length or agreement stay numbers in the table.
    """
    rows = []
    for name in quality_choices(frame):
        values = pd.to_numeric(frame[f"score_{name}"], errors="coerce")
        for model, value in zip(frame["model"], values, strict=True):
            known = None if pd.isna(value) else float(value)
            rows.append(
                {
                    "model": model,
                    "metric": name,
                    "label": score_label(name),
                    "value": value,
                    "text": format_score(name, known),
                    "goodness": goodness(name, known),
                }
            )
    return pd.DataFrame(rows, columns=["model", "metric", "label", "value", "text", "goodness"])


def quality_choices(frame: pd.DataFrame) -> list[str]:
    """Task-relevant score names with at least one value: what the heat map colours and the cost-vs-quality chart
    can plot. Empty when the run has no reference, checks or judge: then nothing here grades the answers."""
    out = []
    for col in [c for c in frame.columns if c.startswith("score_")]:
        name = col.removeprefix("score_")
        if task_relevant(name) and pd.to_numeric(frame[col], errors="coerce").notna().any():
            out.append(name)
    return out


NO_QUALITY_AXIS = (
    "No score here says which answer is better for this task, so there is no quality chart: add a **reference "
    "answer** or **checks** (under the prompt) or run the **judge**. Reading ease, length and agreement are in the "
    "table as facts, not grades."
)
