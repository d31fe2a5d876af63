"""Which scores grade models, and how they are named and written (the dashboard's and the report's).

Only task-relevant scores colour a chart or rank a model: the judge's, the user's checks and the metrics
measured against a reference. The rest (length, reading ease, agreement, JSON validity...) say something
about an answer but not whether it is the better one for this task, so they are listed as numbers only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from bakeoff.records import Judgment, Result
from bakeoff.runner.scoring import score_info
from metrics.judge import SCORE_MAX, SCORE_MIN

JUDGE = "judge_score"
# The cost-vs-quality chart plots the first of these a run has.
PREFERRED = (JUDGE, "assertions_passed", "semantic_similarity", "token_f1", "chrf", "rougeL", "exact_match")
# What a score is called on a page or chart; also the order the dashboard shows scores in (what decides a choice first).
SCORE_LABELS = {
    JUDGE: "judge score",
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


def score_label(name: str) -> str:
    """
    >>> score_label("token_f1"), score_label("new_metric")
    ('token F1', 'new metric')
    """
    return SCORE_LABELS.get(name, name.replace("_", " "))


def score_range(name: str) -> tuple[float, float] | None:
    if name == JUDGE:
        return float(SCORE_MIN), float(SCORE_MAX)
    info = score_info(name)
    return info.range if info is not None else None


def higher_is_better(name: str) -> bool | None:
    if name == JUDGE:
        return True
    info = score_info(name)
    return info.higher_is_better if info is not None else None


def task_relevant(name: str) -> bool:
    """A score that says which answer is better for this task: the judge, the checks, or a reference metric.

    >>> task_relevant("token_f1"), task_relevant("flesch_reading_ease"), task_relevant("agreement")
    (True, False, False)
    """
    if name in (JUDGE, "assertions_passed"):
        return True
    info = score_info(name)
    return info is not None and info.needs_reference and info.higher_is_better is not None


def describe(name: str) -> str:
    """What the score measures and which way is better, for the report's legend."""
    if name == JUDGE:
        return f"Mean {SCORE_MIN}-{SCORE_MAX} rubric score from the latest LLM-as-judge run; higher is better"
    info = score_info(name)
    if info is None:
        return ""
    direction = {True: "higher is better", False: "lower is better", None: "a fact, not a grade"}[info.higher_is_better]
    return f"{info.description.rstrip('.')}; {direction}"


def format_score(name: str, value: float | None, places: int = 3) -> str:
    """yes/no for flags, a percentage for the share of checks, whole numbers for counts (the dashboard's too).

    >>> format_score("is_json", 1.0), format_score("assertions_passed", 0.5), format_score("token_f1", None)
    ('yes', '50%', '–')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if name == JUDGE:
        return f"{value:.1f}/10"
    info = score_info(name)
    if info is not None and info.value == "bool":
        return "yes" if value else "no"
    if name == "assertions_passed":
        return f"{value:.0%}"
    if name in ("words", "characters"):
        return f"{value:.0f}"
    if info is not None and info.range[1] > 1:
        return f"{value:.1f}"
    return f"{value:.{places}f}"


def score_names(results: Sequence[Result], extra: Sequence[str] = ()) -> list[str]:
    """Every score present: task-relevant ones first, each group in name order."""
    present = set(extra) | {k for r in results for k in r.scores}
    return sorted(present, key=lambda n: (not task_relevant(n), n != JUDGE, n))


def judge_means(judgments: Sequence[Judgment]) -> dict[str, float]:
    """model_ref -> mean rubric score of the latest rubric judging (grader errors left out)."""
    rubric = [j for j in judgments if j.mode == "rubric"]
    if not rubric:
        return {}
    latest = rubric[-1].batch_id
    scores: dict[str, list[int]] = {}
    for j in rubric:
        if j.batch_id == latest and not j.grader_error and j.score is not None:
            scores.setdefault(j.model_a, []).append(j.score)
    return {m: sum(v) / len(v) for m, v in scores.items()}


def goodness(name: str, value: float | None) -> float | None:
    """0 (worst) to 1 (best) within the score's range, for colour; None when unknown or not gradable.

    >>> goodness("token_f1", 0.25), goodness("words", 3.0)
    (0.25, None)
    """
    bounds, higher = score_range(name), higher_is_better(name)
    if value is None or math.isnan(value) or bounds is None or higher is None or not all(map(math.isfinite, bounds)):
        return None
    lo, hi = bounds
    scaled = min(1.0, max(0.0, (value - lo) / (hi - lo)))
    return scaled if higher else 1.0 - scaled


def quality_long(frame: pd.DataFrame) -> pd.DataFrame:
    """Long form of a frame's task-relevant `score_<name>` columns for the quality heat map: model, metric, label,
    value, text, goodness (0 worst - 1 best within the score's range; None when unknown).

    Only scores that say which answer is better for this task colour it (task_relevant: the judge, the checks,
    metrics against a reference); reading ease, length or agreement stay numbers in the tables.
    """
    rows = []
    for name in quality_choices(frame):
        values = pd.to_numeric(frame[f"score_{name}"], errors="coerce")
        for model, value in zip(frame["model"], values, strict=True):
            known = None if pd.isna(value) else float(value)
            text = format_score(name, known, places=2)
            rows.append({"model": model, "metric": name, "label": score_label(name), "value": value, "text": text,
                         "goodness": goodness(name, known)})  # fmt: skip
    return pd.DataFrame(rows, columns=["model", "metric", "label", "value", "text", "goodness"])


def quality_choices(frame: pd.DataFrame) -> list[str]:
    """Task-relevant score names (of a frame's `score_<name>` columns) with at least one value, in SCORE_LABELS order:
    what the heat map colours and the cost-vs-quality chart can plot. Empty when nothing here grades the answers."""
    out = []
    for col in [c for c in frame.columns if c.startswith("score_")]:
        name = col.removeprefix("score_")
        if task_relevant(name) and pd.to_numeric(frame[col], errors="coerce").notna().any():
            out.append(name)
    order = list(SCORE_LABELS)
    return sorted(out, key=lambda n: order.index(n) if n in order else len(order))
