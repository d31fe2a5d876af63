"""A batch as a report: per-model aggregates with CIs, every paired comparison, and each item's answers."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from decimal import Decimal

import pandas as pd

from bakeoff.batch.results import aggregate_frame, comparable_metrics, paired
from bakeoff.batch.store import Batch
from bakeoff.records import Result
from bakeoff.report import figures
from bakeoff.report.markup import Markup, Page, badge, el, frag, table, text_block
from bakeoff.report.scores import describe, format_score, score_names, score_range, task_relevant
from metrics.cost import format_usd

MAX_PAIRS = 15  # beyond this (6 models), each model is compared with the first only


def batch_html(batch: Batch, results: Sequence[Result]) -> str:
    """The whole report as one HTML document that needs nothing from the network."""
    agg = aggregate_frame(results, batch.model_refs)
    names = score_names(results)
    page = Page(f"Bakeoff report · batch {batch.batch_id}")
    p = batch.params
    page.add(
        el("h1", "Bakeoff batch report"),
        el(
            "p",
            f"Batch {batch.batch_id}{' · ' + batch.name if batch.name else ''} · {batch.created_at:%Y-%m-%d %H:%M} UTC "
            f"· status {batch.status} · {len(batch.items)} prompts × {len(batch.model_refs)} models × "
            f"{batch.repeats} repeat{'s' if batch.repeats != 1 else ''} · {len(results)} cells",
            class_="meta",
        ),
        el("p", batch.note, class_="note") if batch.note else None,
        el(
            "p",
            f"temperature {p.temperature} · max tokens {p.max_tokens} · top-p {p.top_p or 1.0} · "
            f"seed {p.seed if p.seed is not None else 'random'}"
            + (f" · budget cap {format_usd(batch.budget_usd)}" if batch.budget_usd is not None else ""),
            class_="note",
        ),
        el("h2", "Per model"),
        _aggregates(agg, names),
        _score_table(agg, names),
        _intervals(page, agg, [n for n in names if task_relevant(n)]),
        _paired(results, list(agg["model"])),
        _items(batch, results, names),
    )
    return page.render()


def _num(v: object, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}g}"


def _usd(v: object) -> str:
    return "unpriced" if v is None or (isinstance(v, float) and math.isnan(v)) else format_usd(Decimal(str(v)))


def _aggregates(agg: pd.DataFrame, names: list[str]) -> Markup:
    header = ["model", "ok / cells", "failed", "TTFT mean", "TTFT median", "TTFT p95", "total mean", "total median"]
    header += ["total p95", "tok/s mean", "cost total", "cost / answer"]
    rows = []
    for _, a in agg.iterrows():
        row = [a["model"], f"{a['ok']}/{a['cells']}", a["failed"]]
        row += [_num(a[f"{f}_{s}"]) for f in ("ttft_s", "e2e_s") for s in ("mean", "median", "p95")]
        rows.append([*row, _num(a["tok_s_mean"]), _usd(a["cost_total_usd"]), _usd(a["cost_per_item_usd"])])
    return frag(
        el("h3", "Speed and cost (seconds, USD)"),
        table(header, rows, numeric=range(1, len(header))),
        el(
            "p",
            "Latency and speed over the cells that answered (failed cells are counted, never as zeros).",
            class_="note",
        ),
    )


def _score_table(agg: pd.DataFrame, names: list[str]) -> Markup | None:
    """One row per score, models across: mean [95% CI]; task-relevant scores first, in bold."""
    if not names:
        return None
    rows = []
    for n in names:
        cells = []
        for _, a in agg.iterrows():
            ci = f" [{_num(a[f'{n}_low'])}, {_num(a[f'{n}_high'])}]" if _num(a[f"{n}_low"]) != "–" else ""
            cells.append(f"{_num(a[n])}{ci}")
        rows.append([el("b", n) if task_relevant(n) else n, *cells, describe(n)])
    models = list(agg["model"])
    return frag(
        el("h3", "Scores: mean [95% CI]"),
        table(["score", *models, "what it measures"], rows, numeric=range(1, len(models) + 1)),
        el(
            "p",
            "Intervals are 95% percentile bootstraps over cells. In bold: the scores that say which answer is "
            "better for this task.",
            class_="note",
        ),
    )


def _intervals(page: Page, agg: pd.DataFrame, graded: list[str]) -> Markup | None:
    """One chart per scale (the range's top: 1, 10, 100), so a 0-100 score does not flatten the 0-1 ones."""
    by_range: dict[float | None, list[str]] = {}
    for n in graded:
        if agg[n].notna().any():
            by_range.setdefault((score_range(n) or (0, None))[1], []).append(n)
    if not by_range:
        return None
    charts = [page.chart(figures.score_intervals(agg, group, top)) for top, group in by_range.items()]
    return el("div", charts, class_="charts")


def _pairs(models: list[str]) -> list[tuple[str, str]]:
    pairs = list(itertools.combinations(models, 2))
    return pairs if len(pairs) <= MAX_PAIRS else [(models[0], m) for m in models[1:]]


def _paired(results: Sequence[Result], models: list[str]) -> Markup | None:
    if len(models) < 2:
        return None
    metrics = comparable_metrics(results)
    order = sorted(metrics, key=lambda m: (not task_relevant(m), m in ("ttft_s", "e2e_s", "output_tokens_per_s"), m))
    rows = []
    for a, b in _pairs(models):
        for metric in order:
            pc = paired(results, a, b, metric)
            if pc["items"] == 0:
                continue
            rows.append(
                [
                    f"{a} − {b}",
                    metric,
                    "higher" if pc["higher_is_better"] else "lower",
                    pc["items"],
                    _num(pc["mean_diff"]),
                    f"{_num(pc['ci_low'])} to {_num(pc['ci_high'])}",
                    _verdict(pc),
                    f"{pc['a_wins']:.0%} / {pc['ties']:.0%} / {pc['b_wins']:.0%}",
                ]
            )
    header = ["A − B", "metric", "better", "prompts", "mean difference", "95% CI", "verdict", "A / tie / B better"]
    return frag(
        el("h2", "Paired comparison"),
        el(
            "p",
            "Each pair on the prompts both answered (each prompt's mean over repeats). The verdict names a winner "
            "only when the 95% interval of the difference leaves out zero.",
            class_="note",
        ),
        table(header, rows, numeric=[3, 4, 5, 7]),
    )


def _verdict(pc: dict) -> str:
    low, high = pc["ci_low"], pc["ci_high"]
    if low is None or high is None:
        return "too few prompts"
    if low > 0 or high < 0:
        a_better = (low > 0) == pc["higher_is_better"]
        return f"{pc['a'] if a_better else pc['b']} better"
    return "no clear difference"


def _items(batch: Batch, results: Sequence[Result], names: list[str]) -> Markup:
    by_item: dict[str, list[Result]] = {}
    for r in results:
        by_item.setdefault(r.item_id or "", []).append(r)
    order = {m: i for i, m in enumerate(batch.model_refs)}
    sections = [el("h2", "Per item")]
    names = [n for n in names if task_relevant(n)]  # the rest are in the per-model table
    header = ["model", "repeat", "status", "answer", "TTFT (s)", "total (s)", "cost", *names]
    for item in batch.items:
        cells = sorted(by_item.get(item.item_id, []), key=lambda r: (order.get(r.model_ref, 99), r.repeat or 0))
        rows = [
            [
                r.model_ref,
                r.repeat if r.repeat is not None else "",
                badge(r.status),
                el("div", r.output or (f"{r.error.cls}: {r.error.message}" if r.error else ""), class_="text"),
                _num(r.ttft_s),
                _num(r.e2e_s),
                format_usd(r.cost_usd),
                *[format_score(n, r.scores.get(n)) for n in names],
            ]
            for r in cells
        ]
        sections += [
            el("h3", f"Item {item.item_id}"),
            el("div", "Prompt", class_="label"),
            el("div", item.prompt, class_="text"),
            text_block("System prompt", item.system),
            text_block("Reference", item.reference),
            el("p", " · ".join(f"{k}: {v}" for k, v in item.metadata.items()), class_="note")
            if item.metadata
            else None,
            table(header, rows, numeric=[1, 4, 5, 6, *range(7, 7 + len(names))])
            if rows
            else el("p", "No cell of this prompt has finished.", class_="note"),
        ]
    return frag(*sections)
