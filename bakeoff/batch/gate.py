"""A CI gate's verdict: thresholds on a suite batch's per-model metrics, met or not, and why.

Pure functions over a finished (or stopped) batch's results; bakeoff/batch/gate_cli.py runs the batch,
bakeoff/batch/gate_report.py writes JUnit XML and markdown from a GateResult. A gate never passes on
missing data: a metric with no value (no TTFT because every call failed, a cost with unpriced answers,
a pass rate with no checks) fails its threshold with the reason, and a cell that never ran or was
cancelled counts against the pass rate, like a failed call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from bakeoff.batch.input import BatchItem
from bakeoff.batch.results import aggregate_frame, failures, verdict
from bakeoff.batch.suite import SuiteInfo
from bakeoff.records import Result
from bakeoff.runner.scoring import RUN_SCORES
from metrics import registry
from metrics.cost import format_usd

Op = Literal["min", "max"]
SCORE_PREFIX = "score_"

# Metric name -> (aggregate column of bakeoff/batch/results.aggregate_frame, what it is). pass_rate and
# cost_usd are computed here: both must count cells the aggregates leave out (not run, unpriced).
AGGREGATE_METRICS: dict[str, tuple[str, str]] = {
    "mean_ttft_s": ("ttft_s_mean", "mean time to first token, seconds"),
    "p50_ttft_s": ("ttft_s_median", "median time to first token, seconds"),
    "p95_ttft_s": ("ttft_s_p95", "95th percentile time to first token, seconds"),
    "mean_e2e_s": ("e2e_s_mean", "mean end-to-end time of a call, seconds"),
    "p50_e2e_s": ("e2e_s_median", "median end-to-end time, seconds"),
    "p95_e2e_s": ("e2e_s_p95", "95th percentile end-to-end time, seconds"),
    "mean_tok_s": ("tok_s_mean", "mean output tokens per second"),
}
OWN_METRICS = {
    "pass_rate": "share of the suite's cells whose checks all passed (failed or unrun calls count as fails), 0 to 1",
    "cost_usd": "total cost of the model's cells in USD (fails when any answer is unpriced)",
}


class GateInputError(ValueError):
    """A threshold the gate cannot check: malformed, or on a metric it does not know."""


def score_names() -> list[str]:
    """Scores a `score_<name>` threshold may use: every registered metric and run-level score."""
    return [*registry.all_metrics(), *RUN_SCORES]


def known_metrics() -> list[str]:
    return [*OWN_METRICS, *AGGREGATE_METRICS, *(SCORE_PREFIX + n for n in score_names())]


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: Op
    limit: float

    @property
    def rule(self) -> str:
        """e.g. "≥ 0.9"."""
        return f"{'≥' if self.op == 'min' else '≤'} {self.limit:g}"

    def __str__(self) -> str:
        return f"{self.metric} {self.rule}"

    def met_by(self, value: float) -> bool:
        return value >= self.limit if self.op == "min" else value <= self.limit


def parse_threshold(text: str, op: Op) -> Threshold:
    """`name=value` from --min / --max, or GateInputError saying what is wrong (listing the metrics).

    >>> parse_threshold("pass_rate=0.9", "min")
    Threshold(metric='pass_rate', op='min', limit=0.9)
    >>> str(parse_threshold(" cost_usd = $0.50 ", "max"))
    'cost_usd ≤ 0.5'
    >>> parse_threshold("pass_rate>0.9", "min")
    Traceback (most recent call last):
    bakeoff.batch.gate.GateInputError: --min 'pass_rate>0.9': write it as name=value, e.g. --min pass_rate=0.9
    """
    flag = f"--{op} {text!r}"
    name, sep, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    if not sep or not name or not raw:
        raise GateInputError(f"{flag}: write it as name=value, e.g. --{op} pass_rate=0.9")
    if name not in known_metrics():
        raise GateInputError(f"{flag}: unknown metric {name!r}; known: {', '.join(known_metrics())}")
    try:
        limit = float(raw.removeprefix("$") if name == "cost_usd" else raw)
    except ValueError:
        raise GateInputError(f"{flag}: {raw!r} is not a number") from None
    if not math.isfinite(limit):
        raise GateInputError(f"{flag}: the limit must be a finite number")
    if name == "pass_rate" and not 0 <= limit <= 1:
        raise GateInputError(f"{flag}: pass_rate is a share from 0 to 1 (0.9 for 90%)")
    return Threshold(name, op, limit)


@dataclass(frozen=True)
class Measure:
    """A metric's value for one model, or why there is none."""

    value: float | None
    detail: str = ""  # e.g. "5/6 cells passed", or the reason the value is missing


@dataclass(frozen=True)
class Check:
    model: str
    threshold: Threshold
    measure: Measure

    @property
    def passed(self) -> bool:
        return self.measure.value is not None and self.threshold.met_by(self.measure.value)

    def line(self) -> str:
        """e.g. "beta: pass_rate = 0.8333 (5/6 cells passed), limit ≥ 0.9"."""
        m, t = self.measure, self.threshold
        if m.value is None:
            return f"{self.model}: {t.metric} has no value ({m.detail}), limit {t.rule}"
        shown = format_usd(Decimal(repr(m.value))) if t.metric == "cost_usd" else f"{m.value:.4g}"
        return f"{self.model}: {t.metric} = {shown}{f' ({m.detail})' if m.detail else ''}, limit {t.rule}"


@dataclass(frozen=True)
class CellOutcome:
    """One suite cell (a test × prompt) on one model, over its repeats: what JUnit and the summary report."""

    model: str
    item: BatchItem
    info: SuiteInfo
    results: list[Result]  # the repeats that ran (cancelled ones included)
    repeats: int

    @property
    def name(self) -> str:
        return f"{self.info.test_label} · prompt {self.info.prompt_index}"

    @property
    def state(self) -> Literal["passed", "failed", "error", "not run"]:
        """Worst of its repeats: a call error, then a failed check, then one that never ran or was cancelled."""
        ran = [r for r in self.results if r.status != "cancelled"]
        if any(r.status != "ok" for r in ran):
            return "error"
        if any(verdict(r) is False for r in ran):
            return "failed"
        return "not run" if len(ran) < self.repeats else "passed"

    def reasons(self) -> list[str]:
        """Why it did not pass, one line per failing repeat."""
        out = []
        for r in self.results:
            why = ["cancelled before it finished"] if r.status == "cancelled" else failures(r)
            prefix = f"repeat {r.repeat + 1}: " if self.repeats > 1 else ""
            out += [prefix + w for w in why]
        if (missing := self.repeats - len(self.results)) > 0:
            out.append(f"{missing} of {self.repeats} calls never ran (the batch stopped early)")
        return out


@dataclass(frozen=True)
class ModelGate:
    model: str
    checks: list[Check]
    cells: list[CellOutcome]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def counts(self) -> dict[str, int]:
        """Cells per state, every state present."""
        out = dict.fromkeys(("passed", "failed", "error", "not run"), 0)
        for c in self.cells:
            out[c.state] += 1
        return out


@dataclass(frozen=True)
class GateResult:
    suite: str  # the suite's file name
    batch_id: str
    status: str  # the batch's: done | stopped | budget
    note: str | None
    repeats: int
    models: list[ModelGate]

    @property
    def complete(self) -> bool:
        return self.status == "done"

    @property
    def passed(self) -> bool:
        """Every model meets every threshold, on a batch that ran to the end."""
        return self.complete and all(m.passed for m in self.models)

    def failed_checks(self) -> list[Check]:
        return [c for m in self.models for c in m.checks if not c.passed]


def _pass_rate(items: Sequence[BatchItem], mine: Sequence[Result], repeats: int) -> Measure:
    checked = sum(1 for i in items if (info := SuiteInfo.from_metadata(i.metadata)) and info.asserts) * repeats
    if not checked:
        return Measure(None, "no test has checks (assert), so nothing can pass or fail")
    passed = sum(verdict(r) is True for r in mine)
    return Measure(passed / checked, f"{passed}/{checked} cells passed")


def _cost(model: str, mine: Sequence[Result]) -> Measure:
    if not mine:
        return Measure(None, "no cell ran")
    unpriced = [r for r in mine if r.status == "ok" and r.cost_usd is None]
    if unpriced:
        return Measure(
            None,
            f"{len(unpriced)} of {len(mine)} cells are unpriced: no price for {model} in pricing.yaml, "
            "so the total is unknown",
        )
    total = sum((r.cost_usd for r in mine if r.cost_usd is not None), Decimal(0))
    return Measure(float(total), f"over {len(mine)} cells")


def _no_answer(mine: Sequence[Result]) -> str:
    failed = sum(r.status not in ("ok", "cancelled") for r in mine)
    return f"every call failed: {failed} of {len(mine)}" if failed == len(mine) and mine else "no cell answered"


def _from_aggregate(metric: str, row: dict[str, Any], mine: Sequence[Result]) -> Measure:
    column = AGGREGATE_METRICS[metric][0] if metric in AGGREGATE_METRICS else metric.removeprefix(SCORE_PREFIX)
    value = row.get(column)
    if value is not None and not (isinstance(value, float) and math.isnan(value)):
        return Measure(float(value), f"over {row['ok']} answers")
    if not row.get("ok"):
        return Measure(None, _no_answer(mine))
    if metric.startswith(SCORE_PREFIX):
        return Measure(None, f"no answer has a {column} score (some need a reference, or the embedder)")
    return Measure(None, f"not measured on any of the {row['ok']} answers")


def measures(
    metrics: Sequence[str], model: str, items: Sequence[BatchItem], mine: Sequence[Result], repeats: int
) -> dict[str, Measure]:
    """One model's value of each known metric, from its cells (`mine`)."""
    row: dict[str, Any] | None = None
    out = {}
    for metric in metrics:
        if metric == "pass_rate":
            out[metric] = _pass_rate(items, mine, repeats)
        elif metric == "cost_usd":
            out[metric] = _cost(model, mine)
        else:
            if row is None:
                row = aggregate_frame(list(mine), [model]).iloc[0].to_dict()
            out[metric] = _from_aggregate(metric, row, mine)
    return out


def _cells(model: str, items: Sequence[BatchItem], mine: Sequence[Result], repeats: int) -> list[CellOutcome]:
    by_item: dict[str | None, list[Result]] = {}
    for r in mine:
        by_item.setdefault(r.item_id, []).append(r)
    out = []
    for item in items:
        info = SuiteInfo.from_metadata(item.metadata)
        if info is not None:
            ran = sorted(by_item.get(item.item_id, []), key=lambda r: r.repeat)
            out.append(CellOutcome(model, item, info, ran, repeats))
    return out


def evaluate(
    *,
    suite: str,
    batch_id: str,
    status: str,
    note: str | None,
    items: Sequence[BatchItem],
    models: Sequence[str],
    repeats: int,
    results: Sequence[Result],
    thresholds: Sequence[Threshold],
) -> GateResult:
    """Every threshold checked per model, and every cell's outcome, for a suite batch's results."""
    gates = []
    for model in models:
        mine = [r for r in results if r.model_ref == model]
        found = measures([t.metric for t in thresholds], model, items, mine, repeats)
        checks = [Check(model, t, found[t.metric]) for t in thresholds]
        gates.append(ModelGate(model, checks, _cells(model, items, mine, repeats)))
    return GateResult(suite, batch_id, status, note, repeats, gates)


def describe_metrics() -> str:
    """The metric list for --help and error messages."""
    lines = [f"  {name}: {what}" for name, what in OWN_METRICS.items()]
    lines += [f"  {name}: {what}" for name, (_, what) in AGGREGATE_METRICS.items()]
    lines.append(f"  score_NAME: mean score over the answers, NAME one of {', '.join(score_names())}")
    return "\n".join(lines)
