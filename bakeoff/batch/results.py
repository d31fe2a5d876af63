"""A batch's results as tables: one row per cell, per-model aggregates with bootstrap CIs, paired comparisons.

Failed cells stay in the per-cell table (status and error) but never feed a latency, cost or score
aggregate as a zero; they are counted in `failed`. A suite's cell also has a verdict: it passes when it
answered and every check passed; a failed call is a fail (as in promptfoo), a cell without checks has
none. Paired comparisons pair two arms, each a model or a model on one of the suite's prompts, over
what both answered. Exports reuse export.neutralise for CSV cells.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from bakeoff.batch.input import BatchItem
from bakeoff.batch.suite import SuiteInfo
from bakeoff.records import Result
from bakeoff.runner.scoring import score_info
from bakeoff.store.export import ERROR_COLUMNS, neutralise
from metrics.aggregate import bootstrap_ci, paired_comparison, summarize

# Metrics a paired comparison may use besides the scores, with their direction.
SPEED_COST: dict[str, bool] = {"ttft_s": False, "e2e_s": False, "output_tokens_per_s": True, "cost_usd": False}
PASS = "pass"  # the paired-comparison metric of a suite's verdicts: 1 passed, 0 failed (failed calls included)
EXPORT_FORMATS = ("csv", "jsonl", "parquet")
_OWN = {"id", "repeat", "prompt", "system", "reference", "cached", *ERROR_COLUMNS, "result_id", "run_id", "cell_key"}
_OWN |= {"passed", "failed_checks"}


def _score_names(results: Iterable[Result]) -> list[str]:
    return sorted({k for r in results for k in r.scores})


def suite_info(r: Result) -> SuiteInfo | None:
    return SuiteInfo.from_metadata(r.item_metadata)


def verdict(r: Result) -> bool | None:
    """A suite cell's pass/fail: every check passed on an answer. None: cancelled, or nothing to check."""
    if r.status == "cancelled":
        return None
    if r.status != "ok":
        return False
    if not r.checks:
        return None
    return all(c.get("passed") is True for c in r.checks)


def failures(r: Result) -> list[str]:
    """Why a cell failed: the call's error, or each check that did not pass with what it found."""
    if r.status not in ("ok", "cancelled"):
        return [f"{r.status}: {r.error.cls}: {r.error.message}" if r.error else r.status]
    return [
        f"{c.get('label') or c.get('kind')}: {c.get('error') or c.get('detail') or 'failed'}"
        for c in r.checks
        if c.get("passed") is not True
    ]


def cells_frame(items: Sequence[BatchItem], results: Sequence[Result], cached: set[str] | None = None) -> pd.DataFrame:
    """One row per cell: the input's id and extra columns, then the fields `run --json` prints, flattened."""
    by_id = {i.item_id: i for i in items}
    scores = _score_names(results)
    rows = []
    for r in results:
        item = by_id.get(r.item_id or "")
        data = r.to_json()
        err = data.pop("error") or {}
        row: dict[str, Any] = {
            "id": r.item_id,
            "repeat": r.repeat,
            "prompt": item.prompt if item else None,
            "system": item.system if item else None,
            "reference": item.reference if item else None,
        }
        meta = item.metadata if item else r.item_metadata
        for k, v in meta.items():  # a metadata column named like a result field is renamed meta_<name>
            name = f"meta_{k}" if k in data or k in _OWN or k.startswith("score_") else k
            row[name] = json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
        row.update(
            model=data.pop("model"),
            status=data.pop("status"),
            cached=bool(cached and r.cell_key in cached),
            output=data.pop("output"),
            **{name: err.get(key) for name, key in ERROR_COLUMNS.items()},
        )
        row.update({k: v for k, v in data.items() if not isinstance(v, dict | list)})  # scores follow, spread
        for name in scores:
            row[f"score_{name}"] = r.scores.get(name)
        if suite_info(r) is not None:
            row["passed"] = verdict(r)
            row["failed_checks"] = "; ".join(failures(r)) or None
        row["result_id"], row["run_id"], row["cell_key"] = r.result_id, r.run_id, r.cell_key
        rows.append(row)
    return pd.DataFrame(rows)


def _decimal_sum(values: Iterable[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


def _aggregate(mine: Sequence[Result], scores: Sequence[str], suite: bool, seed: int) -> dict[str, Any]:
    ok = [r for r in mine if r.status == "ok"]
    row: dict[str, Any] = {
        "cells": len(mine),
        "ok": len(ok),
        "failed": sum(r.status not in ("ok", "cancelled") for r in mine),
    }
    if suite:
        verdicts = [v for r in mine if (v := verdict(r)) is not None]
        row.update(
            passed=sum(verdicts), judged=len(verdicts), pass_rate=sum(verdicts) / len(verdicts) if verdicts else None
        )
    for field in ("ttft_s", "e2e_s"):
        s = summarize(getattr(r, field) for r in ok)
        row.update({f"{field}_mean": s.mean, f"{field}_median": s.median, f"{field}_p95": s.p95})
    tps = summarize(r.output_tokens_per_s for r in ok)
    row.update(tok_s_mean=tps.mean, tok_s_median=tps.median)
    priced = [r.cost_usd for r in mine if r.cost_usd is not None]
    total = _decimal_sum(priced)
    row["cost_total_usd"] = float(total) if total is not None else None
    row["cost_per_item_usd"] = float(total / len(priced)) if total is not None else None
    row["unpriced"] = sum(r.cost_usd is None for r in ok)
    for name in scores:
        ci = bootstrap_ci((r.scores.get(name) for r in ok), "mean", seed=seed)
        row.update({name: ci.estimate, f"{name}_low": ci.low, f"{name}_high": ci.high, f"{name}_n": ci.n})
    return row


def aggregate_frame(
    results: Sequence[Result], model_order: Sequence[str] | None = None, seed: int = 0, *, by_prompt: bool = False
) -> pd.DataFrame:
    """Per model: cells, failures, mean / median / p95 TTFT and E2E, tok/s, total and per-item cost, and
    each score's mean with a 95% percentile-bootstrap CI (`<score>_low` / `<score>_high`); for a suite,
    also pass rate (passed / judged). `by_prompt`: one row per model and suite prompt (`prompt`, `template`)."""
    models = list(model_order or dict.fromkeys(r.model_ref for r in results))
    scores = _score_names(results)
    infos = {r.result_id: suite_info(r) for r in results}
    suite = any(infos.values())
    rows = []
    for model in models:
        mine = [r for r in results if r.model_ref == model]
        if not by_prompt:
            rows.append({"model": model, **_aggregate(mine, scores, suite, seed)})
            continue
        templates = {i.prompt_index: i.prompt_template for r in mine if (i := infos[r.result_id])}
        for p in sorted(templates):
            cells = [r for r in mine if (i := infos[r.result_id]) and i.prompt_index == p]
            rows.append(
                {"model": model, "prompt": p, "template": templates[p], **_aggregate(cells, scores, suite, seed)}
            )
    return pd.DataFrame(rows)


def comparable_metrics(results: Sequence[Result]) -> dict[str, bool]:
    """Metric name -> higher is better, for every metric a paired comparison can use on these results."""
    out = dict(SPEED_COST)
    if any(verdict(r) is not None for r in results if suite_info(r) is not None):
        out[PASS] = True
    for name in _score_names(results):
        info = score_info(name)
        if info is not None and info.higher_is_better is not None:
            out[name] = info.higher_is_better
    return out


@dataclass(frozen=True)
class Arm:
    """One side of a paired comparison: a model over every item, or a model on one of a suite's prompts."""

    model: str
    prompt: int | None = None  # a suite prompt's 1-based index

    @property
    def label(self) -> str:
        return self.model if self.prompt is None else f"{self.model} · prompt {self.prompt}"


def _per_unit(results: Sequence[Result], arm: Arm, metric: str) -> dict[Any, float]:
    """Each unit's mean over its repeats: an item for a model arm, a suite test for a prompt arm.

    Ok cells only, except for the pass metric, where a failed call counts as a fail.
    """
    acc: dict[Any, list[float]] = {}
    for r in results:
        info = suite_info(r)
        if r.model_ref != arm.model or (arm.prompt is not None and (info is None or info.prompt_index != arm.prompt)):
            continue
        if metric == PASS:
            v = verdict(r)
            value = None if v is None else float(v)
        elif r.status != "ok":
            continue
        else:
            value = r.scores.get(metric) if metric not in SPEED_COST else getattr(r, metric)
        unit = info.test if arm.prompt is not None and info is not None else r.item_id
        if value is not None and unit is not None:
            acc.setdefault(unit, []).append(float(value))
    return {k: sum(v) / len(v) for k, v in acc.items()}


def paired(results: Sequence[Result], a: str | Arm, b: str | Arm, metric: str, seed: int = 0) -> dict[str, Any]:
    """Arm A against B on the units both answered: mean difference (A − B) with a 95% CI, win/tie/loss rates.

    Two models pair by item; two prompt arms (two prompt variants on one model, say) pair by suite test.
    """
    a, b = (x if isinstance(x, Arm) else Arm(x) for x in (a, b))
    if (a.prompt is None) != (b.prompt is None):
        raise ValueError("compare two models, or two (model, prompt) arms; not one of each")
    directions = comparable_metrics(results)
    if metric not in directions:
        raise ValueError(f"{metric!r} cannot be compared; use one of {', '.join(sorted(directions))}")
    va, vb = _per_unit(results, a, metric), _per_unit(results, b, metric)
    common = sorted(set(va) & set(vb), key=str)
    pc = paired_comparison(
        [va[i] for i in common], [vb[i] for i in common], higher_is_better=directions[metric], seed=seed
    )
    return {
        "metric": metric,
        "a": a.label,
        "b": b.label,
        "higher_is_better": directions[metric],
        "items": pc.n,
        "mean_diff": pc.mean_diff.estimate,
        "ci_low": pc.mean_diff.low,
        "ci_high": pc.mean_diff.high,
        "a_wins": pc.win_rate,
        "ties": pc.tie_rate,
        "b_wins": pc.loss_rate,
    }


# What a paired comparison or a plan defaults to: the grades of this task first (the suite's verdict, the checks,
# matches against the reference, then graded overlaps), time last. A metric on which every paired unit ties says
# nothing about which model is better ("tie 100 %, CI 0 to 0"), so it is passed over.
DEFAULT_METRICS = (PASS, "assertions_passed", "exact_match", "quasi_exact_match", "token_f1", "semantic_similarity",
                   "chrf", "rougeL", "bleu", "e2e_s")


def default_metric(results: Sequence[Result], a: str, b: str, candidates: Iterable[str]) -> str | None:
    """The first of DEFAULT_METRICS among candidates on which A and B differ somewhere; else the first present.

    None when no candidate is in DEFAULT_METRICS (the caller picks any).
    """
    present = [m for m in DEFAULT_METRICS if m in set(candidates)]
    for metric in present:
        pc = paired(results, a, b, metric) if a != b else None
        if pc is not None and pc["items"] and pc["ties"] < 1:
            return metric
    return present[0] if present else None


def export_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """The per-cell table as CSV (formula-safe, UTF-8 with BOM), JSONL or Parquet."""
    if fmt == "csv":
        buf = io.StringIO()
        safe = frame.map(neutralise)
        safe.columns = [neutralise(str(c)) for c in safe.columns]  # metadata column names come from the input file
        safe.to_csv(buf, index=False, lineterminator="\r\n")  # CRLF: cells holding a bare CR get quoted
        return buf.getvalue().encode("utf-8-sig")
    if fmt == "jsonl":
        records = json.loads(frame.to_json(orient="records", force_ascii=False))
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        _uniform_types(frame).to_parquet(buf, index=False, engine="pyarrow")
        return buf.getvalue()
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")


def _uniform_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet needs one type per column: a metadata column mixing numbers and text becomes text."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            kinds = {type(v) for v in out[col] if v is not None and not (isinstance(v, float) and pd.isna(v))}
            if len(kinds) > 1:
                out[col] = [None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in out[col]]
    return out
